"""A replay of ONAP DCAE deployment-handler's Cloudify Manager HTTP calls, with requests.

The calls and the fields read from the answers follow deployment-handler's lib/cloudify.js
(uploadBlueprint, createDeployment, getDeploymentCreationStatus/waitForDeploymentCreation,
startWorkflowExecution, getExecutionStatus, getOutputs, getOutputDescriptions, getCfyStatus,
getNodeInstances, executeOperation, deleteDeployment, deleteBlueprint) and lib/deploy.js.
Every request carries basic auth and `Tenant: default_tenant` (addAuthToOptions).

Run with the py3 venv's python. See clientcheck.py for arguments/environment.
Executions really run (stratus-builtin operations): every workflow is followed the way
waitForWorkflowExecution does it (GET /executions/{id} until the status is in FINISHED; only
`terminated` is a success), and executeOperation's retry loop on 400
existing_running_execution_error is replayed against a really running (slow) install.
"""
import io
import json
import os
import sys
import time
import zipfile

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clientcheck import Checks, Config, eq  # noqa: E402

cfg = Config()
c = Checks("ONAP deployment-handler call replay against %s" % cfg.url)
API = cfg.url + "/api/v3.1"
session = requests.Session()
session.auth = ("admin", cfg.password)
session.headers.update({"Tenant": "default_tenant"})
DEP = "dh_comp_1"        # deployment-handler uses one id for the blueprint and the deployment
FINISHED = ["terminated", "cancelled", "canceled", "failed"]
state = {}
POLL = 0.2               # deployment-handler polls every 5 s (RETRY_INTERVAL); faster here


def call(method, path, expect, **kw):
    r = session.request(method, API + path, timeout=60, **kw)
    body = r.text
    print("      %s %s -> %d %s" % (method, path, r.status_code, body[:300].replace("\n", " ")))
    if isinstance(expect, int):
        expect = (expect,)
    assert r.status_code in expect, "%s %s: HTTP %d (wanted %s): %s" % (method, path, r.status_code, expect,
                                                                        body[:2000])
    return r


def status():
    # getCfyStatus: GET /status (the healthcheck only looks for a 200 with JSON)
    r = call("GET", "/status", 200)
    assert isinstance(r.json(), dict)


c.run("GET /status", status)


def upload():
    # uploadBlueprint: a zip holding work/blueprint.yaml, PUT as application/octet-stream
    with open(cfg.blueprint("multi")) as f:
        text = f.read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("work/blueprint.yaml", text.encode("utf-8"))
    r = call("PUT", "/blueprints/%s?visibility=global" % DEP, (200, 201), data=buf.getvalue(),
             headers={"Content-Type": "application/octet-stream", "Accept": "*/*"})
    bp = r.json()
    eq(bp.get("id"), DEP, "id")
    eq(bp.get("main_file_name"), "blueprint.yaml", "main_file_name")
    got = call("GET", "/blueprints/%s" % DEP, 200).json()
    eq(got.get("visibility"), "global", "visibility")
    eq(got.get("state"), "uploaded", "state")


c.run("PUT /blueprints/{id}?visibility=global (zip with work/blueprint.yaml, octet-stream)", upload)


def create():
    body = {"blueprint_id": DEP, "inputs": {"replicas": 5, "component_name": "dh-comp"}}
    r = call("PUT", "/deployments/%s" % DEP, (200, 201), data=json.dumps(body),
             headers={"Content-Type": "application/json", "Accept": "*/*"})
    eq(r.json().get("id"), DEP, "id")


c.run("PUT /deployments/{id} {blueprint_id, inputs}", create)


def wait_creation():
    # getDeploymentCreationStatus + waitForDeploymentCreation: status read from items[0] and
    # items must have exactly one element
    path = "/executions?deployment_id=%s&workflow_id=create_deployment_environment&_include=id,status" % DEP
    st = None
    for _ in range(30):
        items = call("GET", path, 200).json().get("items")
        assert isinstance(items, list)
        st = items[0]["status"] if len(items) == 1 else None
        if st in FINISHED:
            break
        time.sleep(0.1)
    assert len(items) == 1, "wanted exactly one create_deployment_environment execution, got %r" % (items,)
    eq(sorted(items[0].keys()), ["id", "status"], "keys with _include=id,status")
    eq(st, "terminated", "create_deployment_environment status")


c.run("GET /executions?deployment_id=&workflow_id=create_deployment_environment&_include=id,status",
      wait_creation)


def wait_workflow(ex_id, tries=300):
    # waitForWorkflowExecution: repeatWhile(GET /executions/{id}, status not in FINISHED), then
    # onFinishedExecution: only `terminated` is a success (json.status, json.error read)
    got = None
    for _ in range(tries):
        got = call("GET", "/executions/%s" % ex_id, 200).json()
        if got.get("status") in FINISHED:
            break
        time.sleep(POLL)
    return got


def start(dep, workflow, parameters=None, force=None):
    # startWorkflowExecution: POST /executions {deployment_id, workflow_id[, force][, parameters]}
    body = {"deployment_id": dep, "workflow_id": workflow}
    if workflow == "uninstall":
        body["force"] = bool(force)
        parameters = {"ignore_failure": "true"}
    if parameters:
        body["parameters"] = parameters
    return session.post(API + "/executions", data=json.dumps(body), timeout=60,
                        headers={"Content-Type": "application/json", "Accept": "*/*"})


def install():
    # initiateWorkflowExecution reads json.id; executeWorkflow then waits for the execution
    r = start(DEP, "install")
    eq(r.status_code, 201, "POST /executions status")
    ex = r.json()
    assert ex.get("id"), ex
    state["install"] = ex["id"]
    got = call("GET", "/executions/%s" % ex["id"], 200).json()
    eq(got.get("workflow_id"), "install", "workflow_id")
    done = wait_workflow(ex["id"])
    eq(done.get("status"), "terminated", "install status (error: %r)" % done.get("error"))
    eq(done.get("error"), "", "error of a terminated execution")


c.run("POST /executions install; GET /executions/{id} polled until terminated", install)


def outputs():
    # getOutputs: GET /deployments/{id}/outputs; reads json.outputs (after the install)
    out = call("GET", "/deployments/%s/outputs" % DEP, 200, headers={"Accept": "*/*"}).json()
    eq(out.get("outputs"), {"name": "dh-comp", "url": "http://lonely:8080"}, "outputs after install")
    # getOutputDescriptions: GET /deployments/{id}?include=outputs (sic: not _include);
    # reads content.outputs[name].description
    d = call("GET", "/deployments/%s?include=outputs" % DEP, 200, headers={"Accept": "*/*"}).json()
    assert isinstance(d.get("outputs"), dict) and "name" in d["outputs"], d.get("outputs")
    assert isinstance(d["outputs"]["name"], dict), d["outputs"]


c.run("GET /deployments/{id}/outputs (get_attribute after install) and ?include=outputs", outputs)


def node_instances():
    # getNodeInstances (older form): _include=id,deployment_id,runtime_properties&_sort=id&_size=1000&_offset=N,
    # stops when offset >= metadata.pagination.total (here _size=2 over 6 instances)
    seen = []
    props = {}
    offset = 0
    while True:
        r = call("GET", "/node-instances?_include=id,deployment_id,runtime_properties&_sort=id&_size=2"
                        "&_offset=%d" % offset, 200).json()
        items = r["items"]
        if not items:
            break
        for it in items:
            eq(sorted(it.keys()), ["deployment_id", "id", "runtime_properties"], "keys")
            props[it["id"]] = it["runtime_properties"]
        seen.extend(it["id"] for it in items)
        offset += len(items)
        total = r["metadata"]["pagination"]["total"]
        if offset >= total:
            break
    eq(len(seen), 6, "instances seen (5 workers + 1)")
    eq(seen, sorted(seen), "sorted by id")
    eq(len(set(seen)), 6, "no repeats across pages")
    for ni_id, rp in props.items():
        want = {"url": "http://lonely:8080"} if ni_id.startswith("lonely_") else {"component": "dh-comp"}
        eq(rp, want, "runtime_properties of %s (set by the install)" % ni_id)
    state["instances"] = seen
    # getNodeInstances (current form): /node-instances?_size=1000&_offset=N, every field
    r = call("GET", "/node-instances?_size=1000&_offset=0", 200).json()
    mine = [it for it in r["items"] if it["deployment_id"] == DEP]
    eq(sorted(it["state"] for it in mine), ["started"] * 6, "states after install")


c.run("GET /node-instances paging with _size=2&_offset=N: runtime properties of the install", node_instances)


def execute_operation():
    # executeOperation -> runQueuedExecution: POST execute_operation, then waitForWorkflowExecution
    lonely = [i for i in state["instances"] if i.startswith("lonely_")]
    params = {"operation": "dcae.interfaces.policy.policy_update",
              "operation_kwargs": {"updated_policies": [{"policy_id": "p1"}]},
              "node_instance_ids": lonely, "allow_kwargs_override": True}
    r = start(DEP, "execute_operation", params)
    eq(r.status_code, 201, "POST /executions status: %s" % r.text[:500])
    done = wait_workflow(r.json()["id"])
    eq(done.get("status"), "terminated", "execute_operation status (error: %r)" % done.get("error"))
    ni = call("GET", "/node-instances/%s" % lonely[0], 200).json()
    eq(ni["runtime_properties"].get("updated_policies"), [{"policy_id": "p1"}],
       "runtime property from the operation_kwargs (allow_kwargs_override)")


c.run("POST /executions execute_operation (policy_update on one instance) polled until terminated",
      execute_operation)

SLOW = "dh_slow"


def busy_retry():
    # a component whose install takes a while: executeOperation meanwhile gets 400
    # existing_running_execution_error, and runQueuedExecution retries until it is accepted
    with open(cfg.blueprint("slow")) as f:
        text = f.read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("work/blueprint.yaml", text.encode("utf-8"))
    call("PUT", "/blueprints/%s?visibility=global" % SLOW, (200, 201), data=buf.getvalue(),
         headers={"Content-Type": "application/octet-stream", "Accept": "*/*"})
    call("PUT", "/deployments/%s" % SLOW, (200, 201), data=json.dumps({"blueprint_id": SLOW, "inputs": {"seconds": 2}}),
         headers={"Content-Type": "application/json", "Accept": "*/*"})
    r = start(SLOW, "install")
    eq(r.status_code, 201, "install status")
    install_id = r.json()["id"]
    params = {"operation": "cloudify.interfaces.lifecycle.start", "operation_kwargs": {},
              "node_instance_ids": [], "allow_kwargs_override": True}
    refused = 0
    t0 = time.time()
    while True:
        r = start(SLOW, "execute_operation", params)
        if r.status_code == 400 and r.json().get("error_code") == "existing_running_execution_error":
            refused += 1
            assert time.time() - t0 < 60, "still refused after 60 s"
            time.sleep(POLL)
            continue
        break
    eq(r.status_code, 201, "POST /executions once the install ended: %s" % r.text[:500])
    assert refused >= 1, "execute_operation was never refused while the install ran"
    eq(call("GET", "/executions/%s" % install_id, 200).json().get("status"), "terminated", "install status")
    eq(wait_workflow(r.json()["id"]).get("status"), "terminated", "execute_operation status")


c.run("POST /executions while an install runs -> 400 existing_running_execution_error, retried until accepted",
      busy_retry)


def delete_live():
    # deleteDeployment (no force) of an installed deployment: refused, live nodes
    r = call("DELETE", "/deployments/%s" % DEP, 400)
    assert r.json().get("error_code"), r.json()
    assert "live" in r.json().get("message", ""), r.json()


c.run("DELETE /deployments/{id} of an installed deployment -> 400 (live nodes)", delete_live)


def uninstall():
    # uninstall: force from ?force_uninstall (false here), parameters {"ignore_failure": "true"};
    # the lonely node's stop operation fails, the failure is ignored
    r = start(DEP, "uninstall", force=False)
    eq(r.status_code, 201, "POST /executions status")
    ex = r.json()
    eq(ex.get("workflow_id"), "uninstall", "workflow_id")
    got = call("GET", "/executions/%s" % ex["id"], 200).json()
    assert got.get("parameters", {}).get("ignore_failure") in (True, "true"), got.get("parameters")
    listed = call("GET", "/executions?deployment_id=%s" % DEP, 200).json()["items"]
    assert ex["id"] in [e["id"] for e in listed], listed
    done = wait_workflow(ex["id"])
    eq(done.get("status"), "terminated", "uninstall status (error: %r)" % done.get("error"))
    evs = call("GET", "/events?execution_id=%s&_size=1000" % ex["id"], 200).json()["items"]
    types = [e.get("event_type") for e in evs]
    assert "task_failed" in types, types
    eq(types[-1], "workflow_succeeded", "last event")
    r = call("GET", "/node-instances?deployment_id=%s&_include=id,state" % DEP, 200).json()
    eq(sorted(it["state"] for it in r["items"]), ["deleted"] * 6, "states after uninstall")


c.run("POST /executions uninstall {force: false, parameters: {\"ignore_failure\": \"true\"}} -> terminated",
      uninstall)


def uninstall_forced():
    # force_uninstall=true: body.force true; the slow component's uninstall
    r = start(SLOW, "uninstall", force=True)
    eq(r.status_code, 201, "POST /executions status")
    eq(wait_workflow(r.json()["id"]).get("status"), "terminated", "uninstall status")


c.run("POST /executions uninstall {force: true, parameters: {\"ignore_failure\": \"true\"}} -> terminated",
      uninstall_forced)


def delete_deployments():
    for dep in (DEP, SLOW):
        call("DELETE", "/deployments/%s" % dep, (200, 204))
        for _ in range(100):
            if session.get(API + "/deployments/%s" % dep, timeout=30).status_code == 404:
                break
            time.sleep(0.1)
        call("GET", "/deployments/%s" % dep, 404)


c.run("DELETE /deployments/{id} after the uninstall", delete_deployments)


def delete_blueprint():
    for bp in (DEP, SLOW):
        # shouldBlueprintGetDeleted: no deployment of it left in any tenant
        r = call("GET", "/deployments?blueprint_id=%s&_all_tenants=true&_include=id" % bp, 200).json()
        eq(r["metadata"]["pagination"]["total"], 0, "deployments of %s" % bp)
        call("DELETE", "/blueprints/%s" % bp, (200, 204))
        r = call("GET", "/blueprints/%s" % bp, 404)
        eq(r.json().get("error_code"), "not_found_error", "error_code")


c.run("DELETE /blueprints/{id}", delete_blueprint)


def not_found_shape():
    # runQueuedExecution: 404 + error_code not_found_error when the deployment is gone
    body = {"deployment_id": DEP, "workflow_id": "install"}
    r = call("POST", "/executions", 404, data=json.dumps(body), headers={"Content-Type": "application/json"})
    eq(r.json().get("error_code"), "not_found_error", "error_code")
    assert r.json().get("message"), r.json()


c.run("POST /executions on a missing deployment -> 404 not_found_error", not_found_shape)

c.finish()
