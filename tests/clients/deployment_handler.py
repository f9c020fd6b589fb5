"""A replay of ONAP DCAE deployment-handler's Cloudify Manager HTTP calls, with requests.

The calls and the fields read from the answers follow deployment-handler's lib/cloudify.js
(uploadBlueprint, createDeployment, getDeploymentCreationStatus/waitForDeploymentCreation,
startWorkflowExecution, getExecutionStatus, getOutputs, getOutputDescriptions, getCfyStatus,
getNodeInstances, executeOperation, deleteDeployment, deleteBlueprint) and lib/deploy.js.
Every request carries basic auth and `Tenant: default_tenant` (addAuthToOptions).

Run with the py3 venv's python. See clientcheck.py for arguments/environment.
Stratus has no workflow engine yet: executions stay `pending`; the checks look at the
response shapes and what is stored.
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


def install():
    # startWorkflowExecution: POST /executions {deployment_id, workflow_id}; reads json.id
    body = {"deployment_id": DEP, "workflow_id": "install"}
    r = call("POST", "/executions", (200, 201), data=json.dumps(body),
             headers={"Content-Type": "application/json", "Accept": "*/*"})
    ex = r.json()
    assert ex.get("id"), ex
    state["install"] = ex["id"]
    # getExecutionStatus: GET /executions/{id}; reads status, workflow_id, error
    got = call("GET", "/executions/%s" % ex["id"], 200).json()
    eq(got.get("workflow_id"), "install", "workflow_id")
    assert got.get("status") not in FINISHED, got.get("status")
    eq(got.get("status"), "pending", "status (no workflow engine yet)")


c.run("POST /executions install; GET /executions/{id}", install)


def busy():
    # runQueuedExecution retries on 400 + error_code existing_running_execution_error
    body = {"deployment_id": DEP, "workflow_id": "execute_operation",
            "parameters": {"operation": "cloudify.interfaces.lifecycle.start", "operation_kwargs": {},
                           "node_instance_ids": [], "allow_kwargs_override": True}}
    r = call("POST", "/executions", 400, data=json.dumps(body), headers={"Content-Type": "application/json"})
    eq(r.json().get("error_code"), "existing_running_execution_error", "error_code")


c.run("POST /executions while install is pending -> 400 existing_running_execution_error", busy)


def outputs():
    # getOutputs: GET /deployments/{id}/outputs; reads json.outputs
    out = call("GET", "/deployments/%s/outputs" % DEP, 200, headers={"Accept": "*/*"}).json()
    eq(out.get("outputs"), {"name": "dh-comp"}, "outputs")
    # getOutputDescriptions: GET /deployments/{id}?include=outputs (sic: not _include);
    # reads content.outputs[name].description
    d = call("GET", "/deployments/%s?include=outputs" % DEP, 200, headers={"Accept": "*/*"}).json()
    assert isinstance(d.get("outputs"), dict) and "name" in d["outputs"], d.get("outputs")
    assert isinstance(d["outputs"]["name"], dict), d["outputs"]


c.run("GET /deployments/{id}/outputs and GET /deployments/{id}?include=outputs", outputs)


def node_instances():
    # getNodeInstances: _include=id,deployment_id,runtime_properties&_sort=id&_size=1000&_offset=N,
    # stops when offset >= metadata.pagination.total (here _size=2 over 6 instances)
    seen = []
    offset = 0
    while True:
        r = call("GET", "/node-instances?_include=id,deployment_id,runtime_properties&_sort=id&_size=2"
                        "&_offset=%d" % offset, 200).json()
        items = r["items"]
        if not items:
            break
        for it in items:
            eq(sorted(it.keys()), ["deployment_id", "id", "runtime_properties"], "keys")
        seen.extend(it["id"] for it in items)
        offset += len(items)
        total = r["metadata"]["pagination"]["total"]
        if offset >= total:
            break
    eq(len(seen), 6, "instances seen (5 workers + 1)")
    eq(seen, sorted(seen), "sorted by id")
    eq(len(set(seen)), 6, "no repeats across pages")
    state["instances"] = seen


c.run("GET /node-instances paging with _size=2&_offset=N", node_instances)


def uninstall():
    # the pending install must end first (no engine): cancel it
    call("POST", "/executions/%s" % state["install"], 200, data=json.dumps({"action": "cancel"}),
         headers={"Content-Type": "application/json"})
    # startWorkflowExecution for uninstall: force from the request, parameters {"ignore_failure": "true"}
    body = {"deployment_id": DEP, "workflow_id": "uninstall", "force": True,
            "parameters": {"ignore_failure": "true"}}
    r = call("POST", "/executions", (200, 201), data=json.dumps(body),
             headers={"Content-Type": "application/json", "Accept": "*/*"})
    ex = r.json()
    assert ex.get("id"), ex
    eq(ex.get("workflow_id"), "uninstall", "workflow_id")
    got = call("GET", "/executions/%s" % ex["id"], 200).json()
    assert got.get("parameters", {}).get("ignore_failure") in (True, "true"), got.get("parameters")
    eq(got.get("status"), "pending", "status")
    listed = call("GET", "/executions?deployment_id=%s" % DEP, 200).json()["items"]
    assert ex["id"] in [e["id"] for e in listed], listed
    state["uninstall"] = ex["id"]


c.run("POST /executions uninstall with force and {\"ignore_failure\": \"true\"}", uninstall)


def delete_guard():
    call("POST", "/executions/%s" % state["uninstall"], 200, data=json.dumps({"action": "cancel"}),
         headers={"Content-Type": "application/json"})
    # mark one instance live, as an install would have: the delete must be refused
    ni = call("GET", "/node-instances/%s" % state["instances"][0], 200).json()
    call("PATCH", "/node-instances/%s" % ni["id"], 200, data=json.dumps({"state": "started", "version": ni["version"]}),
         headers={"Content-Type": "application/json"})
    r = call("DELETE", "/deployments/%s" % DEP, 400)
    assert r.json().get("error_code"), r.json()
    assert "live" in r.json().get("message", ""), r.json()
    ni = call("GET", "/node-instances/%s" % ni["id"], 200).json()
    call("PATCH", "/node-instances/%s" % ni["id"], 200, data=json.dumps({"state": "deleted", "version": ni["version"]}),
         headers={"Content-Type": "application/json"})
    call("DELETE", "/deployments/%s" % DEP, (200, 204))
    for _ in range(100):
        if session.get(API + "/deployments/%s" % DEP, timeout=30).status_code == 404:
            break
        time.sleep(0.1)
    call("GET", "/deployments/%s" % DEP, 404)


c.run("DELETE /deployments/{id}: refused with live instances, then deleted", delete_guard)


def delete_blueprint():
    call("DELETE", "/blueprints/%s" % DEP, (200, 204))
    r = call("GET", "/blueprints/%s" % DEP, 404)
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
