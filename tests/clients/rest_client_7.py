"""cloudify-common 7.0.5's CloudifyClient against a running Stratus, unchanged.

Run with the py3 venv's python. See clientcheck.py for arguments/environment.
Executions really run (operations of the stratus-builtin plugin): install/uninstall are
followed to `terminated` the way a client polls a real manager, and cancel/kill/resume/queue
are exercised on a really running execution (blueprints/slow: a start operation that sleeps).
"""
import datetime
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clientcheck import Checks, Config, contains, eq, zip_dir  # noqa: E402

from cloudify_rest_client import CloudifyClient  # noqa: E402
from cloudify_rest_client.exceptions import (  # noqa: E402
    CloudifyClientError,
    MissingRequiredDeploymentInputError,
    UnknownDeploymentInputError,
    UserUnauthorizedError,
)

cfg = Config()
c = Checks("cloudify-common 7.0.5 CloudifyClient against %s" % cfg.url)
client = CloudifyClient(host=cfg.host, port=cfg.port, username="admin", password=cfg.password,
                        tenant="default_tenant")
work = tempfile.mkdtemp(prefix="stratus-rc7-")


def raises(exc_type, fn, *args, **kwargs):
    """Calls fn, asserting it raises exc_type; returns the exception."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError("expected %s, got %s: %s" % (exc_type.__name__, type(e).__name__, e))
    raise AssertionError("expected %s, nothing was raised" % exc_type.__name__)


def client_error(status, error_code, fn, *args, **kwargs):
    e = raises(CloudifyClientError, fn, *args, **kwargs)
    eq(e.status_code, status, "status_code of %s" % type(e).__name__)
    if error_code:
        eq(e.error_code, error_code, "error_code")
    return e


# --- manager ---------------------------------------------------------------------
def version():
    v = client.manager.get_version()
    assert v.get("version"), v
    assert "edition" in v, v


def status():
    s = client.manager.get_status()
    eq(s.get("status"), "OK", "status")
    assert isinstance(s.get("services"), dict) and s["services"], s
    for name, svc in s["services"].items():
        eq(svc.get("status"), "Active", "service %s" % name)


c.run("manager.get_version()", version)
c.run("manager.get_status() (5.x dict form, all Active)", status)


def bad_password():
    bad = CloudifyClient(host=cfg.host, port=cfg.port, username="admin", password="nope",
                         tenant="default_tenant")
    e = raises(UserUnauthorizedError, bad.blueprints.list)
    eq(e.status_code, 401, "status_code")


c.run("a wrong password raises UserUnauthorizedError (401)", bad_password)

# --- blueprints ------------------------------------------------------------------


def upload_hello():
    bp = client.blueprints.upload(cfg.blueprint("hello"), "rc7-hello")
    eq(bp.id, "rc7-hello", "id")
    assert bp.get("state") in ("uploaded", "pending", "uploading", "extracting", "parsing"), bp.get("state")


def wait_uploaded(bp_id):
    for _ in range(100):
        bp = client.blueprints.get(bp_id)
        if bp.get("state") in ("uploaded",) or (bp.get("state") or "").startswith("fail") or \
                bp.get("state") == "invalid":
            return bp
        time.sleep(0.1)
    return bp


def get_hello():
    bp = wait_uploaded("rc7-hello")
    eq(bp.get("state"), "uploaded", "state")
    eq(bp.main_file_name, "blueprint.yaml", "main_file_name")
    eq(bp.description, "A small blueprint for the client compatibility tests.", "description")
    plan = bp.plan
    assert "greeting" in plan["inputs"], plan.get("inputs")
    eq(plan["inputs"]["port"].get("default"), 8080, "port default")
    assert sorted(n["id"] for n in plan["nodes"]) == ["app", "server"], plan["nodes"]
    eq(bp.tenant_name, "default_tenant", "tenant_name")
    eq(bp.created_by, "admin", "created_by")


def upload_multi():
    bp = client.blueprints.upload(cfg.blueprint("multi"), "rc7-multi")
    eq(bp.id, "rc7-multi", "id")
    eq(wait_uploaded("rc7-multi").get("state"), "uploaded", "state")


corpus_yaml = os.path.join(cfg.corpus, "k8s-ves.yaml")


def upload_corpus_archive():
    if not os.path.exists(corpus_yaml):
        print("      (skipped: no corpus at %s)" % cfg.corpus)
        return
    zpath = os.path.join(work, "k8s-ves.zip")
    with open(zpath, "wb") as f:
        f.write(zip_dir(cfg.corpus, "ves", {"k8s-ves.yaml": corpus_yaml}))
    bp = client.blueprints.publish_archive(zpath, "rc7-ves", blueprint_filename="k8s-ves.yaml")
    eq(bp["id"], "rc7-ves", "id")
    bp = wait_uploaded("rc7-ves")
    eq(bp.get("state"), "uploaded", "state")
    eq(bp.main_file_name, "k8s-ves.yaml", "main_file_name")
    types = sorted(n["type"] for n in bp.plan["nodes"])
    eq(types, ["dcae.nodes.ContainerizedPlatformComponent"], "node types")
    assert "tag_version" in bp.plan["inputs"], sorted(bp.plan["inputs"])


def upload_invalid():
    d = os.path.join(work, "bad")
    os.makedirs(d)
    p = os.path.join(d, "blueprint.yaml")
    with open(p, "w") as f:
        f.write("tosca_definitions_version: cloudify_dsl_1_3\nnode_templates:\n  x:\n    type: no.such.Type\n")
    try:
        bp = client.blueprints.upload(p, "rc7-bad")
    except CloudifyClientError as e:
        eq(e.status_code, 400, "status_code")
        eq(e.error_code, "invalid_blueprint_error", "error_code")
        return
    # 7.x semantics: accepted, then the upload execution marks it invalid
    bp = wait_uploaded("rc7-bad")
    assert bp.get("state") in ("invalid", "failed_parsing"), bp.get("state")
    assert "no.such.Type" in (bp.get("error") or ""), bp.get("error")


c.run("blueprints.upload(yaml) rc7-hello", upload_hello)
c.run("blueprints.get rc7-hello: state, main_file_name, description, plan", get_hello)
c.run("blueprints.upload(yaml) rc7-multi", upload_multi)
c.run("blueprints.publish_archive(zip of corpus k8s-ves.yaml) rc7-ves", upload_corpus_archive)
c.run("blueprints.upload of an invalid blueprint: 400 invalid_blueprint_error or state invalid", upload_invalid)


def bp_get_missing():
    client_error(404, "not_found_error", client.blueprints.get, "no-such-blueprint")


c.run("blueprints.get(missing) -> 404 not_found_error", bp_get_missing)


def bp_upload_duplicate():
    client_error(409, "conflict_error", client.blueprints.upload, cfg.blueprint("hello"), "rc7-hello")


c.run("blueprints.upload of an existing id -> 409 conflict_error", bp_upload_duplicate)


def bp_list_meta():
    lst = client.blueprints.list()
    ids = [b.id for b in lst]
    for want in ("rc7-hello", "rc7-multi"):
        assert want in ids, ids
    p = lst.metadata.pagination
    eq(p.total, len(lst), "pagination.total")
    eq(p.offset, 0, "pagination.offset")
    assert p.size >= len(lst), p.size


def bp_list_include():
    lst = client.blueprints.list(_include=["id", "created_at"])
    assert len(lst) >= 2
    for b in lst:
        eq(sorted(b.keys()), ["created_at", "id"], "keys with _include")


def bp_list_sort():
    ids = [b.id for b in client.blueprints.list(sort="id")]
    eq(ids, sorted(ids), "sort=id")
    ids = [b.id for b in client.blueprints.list(sort="id", is_descending=True)]
    eq(ids, sorted(ids, reverse=True), "sort=-id")


def bp_list_filter():
    lst = client.blueprints.list(id="rc7-multi")
    eq([b.id for b in lst], ["rc7-multi"], "id filter")
    eq(lst.metadata.pagination.total, 1, "total with a filter")
    lst = client.blueprints.list(id=["rc7-multi", "rc7-hello"])
    eq(sorted(b.id for b in lst), ["rc7-hello", "rc7-multi"], "repeated filter (OR)")


def bp_list_paging():
    all_ids = [b.id for b in client.blueprints.list(sort="id")]
    page = client.blueprints.list(sort="id", _offset=1, _size=1)
    eq([b.id for b in page], all_ids[1:2], "page _offset=1 _size=1")
    eq(page.metadata.pagination.offset, 1, "offset")
    eq(page.metadata.pagination.size, 1, "size")
    eq(page.metadata.pagination.total, len(all_ids), "total")


c.run("blueprints.list: items and pagination metadata", bp_list_meta)
c.run("blueprints.list(_include=[id, created_at])", bp_list_include)
c.run("blueprints.list(sort=id, is_descending)", bp_list_sort)
c.run("blueprints.list(id=...) filters, repeated = OR", bp_list_filter)
c.run("blueprints.list(_offset=1, _size=1)", bp_list_paging)


def bp_archive():
    dest = os.path.join(work, "dl.tar.gz")
    client.blueprints.download("rc7-hello", output_file=dest)
    assert os.path.getsize(dest) > 0


c.run("blueprints.download(rc7-hello)", bp_archive)

# --- deployments -----------------------------------------------------------------


def wait_env(dep_id):
    """Waits for create_deployment_environment to leave pending/started (it is a system execution)."""
    ex = None
    for _ in range(100):
        lst = client.executions.list(deployment_id=dep_id, include_system_workflows=True,
                                     workflow_id="create_deployment_environment")
        if lst and lst[0].status in ("terminated", "failed", "cancelled"):
            return lst[0]
        ex = lst[0] if lst else None
        time.sleep(0.1)
    return ex


def dep_create():
    d = client.deployments.create("rc7-hello", "rc7-dep", inputs={"greeting": "hello-rc7", "port": 9})
    eq(d.id, "rc7-dep", "id")
    eq(d.blueprint_id, "rc7-hello", "blueprint_id")
    ex = wait_env("rc7-dep")
    assert ex is not None, "no create_deployment_environment execution"
    eq(ex.status, "terminated", "create_deployment_environment status")


def dep_create_multi():
    client.deployments.create("rc7-multi", "rc7-multi-dep", inputs={"replicas": 3})
    wait_env("rc7-multi-dep")


def dep_missing_input():
    e = raises(MissingRequiredDeploymentInputError, client.deployments.create, "rc7-hello", "rc7-dep-x",
               inputs={})
    eq(e.status_code, 400, "status_code")
    contains(str(e), "greeting")


def dep_unknown_input():
    e = raises(UnknownDeploymentInputError, client.deployments.create, "rc7-hello", "rc7-dep-y",
               inputs={"greeting": "x", "nope": 1})
    eq(e.status_code, 400, "status_code")
    contains(str(e), "nope")


def dep_bad_blueprint():
    client_error(404, "not_found_error", client.deployments.create, "no-such-bp", "rc7-dep-z")


def dep_duplicate():
    client_error(409, "conflict_error", client.deployments.create, "rc7-hello", "rc7-dep",
                 inputs={"greeting": "again"})


c.run("deployments.create(rc7-hello, rc7-dep, inputs) and its environment execution", dep_create)
c.run("deployments.create(rc7-multi, rc7-multi-dep, replicas=3)", dep_create_multi)
c.run("deployments.create without a required input -> MissingRequiredDeploymentInputError", dep_missing_input)
c.run("deployments.create with an unknown input -> UnknownDeploymentInputError", dep_unknown_input)
c.run("deployments.create from a missing blueprint -> 404", dep_bad_blueprint)
c.run("deployments.create of an existing id -> 409 conflict_error", dep_duplicate)


def dep_get():
    d = client.deployments.get("rc7-dep")
    eq(d.blueprint_id, "rc7-hello", "blueprint_id")
    eq(d.inputs, {"greeting": "hello-rc7", "port": 9}, "inputs")
    assert "greeting_out" in d.outputs, d.outputs
    wf = sorted(w["name"] for w in d.workflows)
    for name in ("install", "uninstall", "execute_operation", "heal", "scale"):
        assert name in wf, wf
    eq(d.tenant_name, "default_tenant", "tenant_name")
    d = client.deployments.get("rc7-dep", _include=["id", "inputs"])
    eq(sorted(d.keys()), ["id", "inputs"], "keys with _include")


def dep_list():
    lst = client.deployments.list()
    ids = sorted(d.id for d in lst)
    assert "rc7-dep" in ids and "rc7-multi-dep" in ids, ids
    lst = client.deployments.list(blueprint_id="rc7-multi")
    eq([d.id for d in lst], ["rc7-multi-dep"], "blueprint_id filter")
    lst = client.deployments.list(sort="id", is_descending=True, _include=["id"])
    got = [d.id for d in lst]
    eq(got, sorted(got, reverse=True), "sort=-id")


def dep_outputs():
    o = client.deployments.outputs.get("rc7-dep")
    eq(o.deployment_id, "rc7-dep", "deployment_id")
    # server_ip is get_attribute of a runtime property the install sets: null before it runs
    eq(o.outputs, {"greeting_out": "hello-rc7", "endpoint": "http://hello-rc7:9", "server_ip": None},
       "outputs before install")


def dep_capabilities():
    cp = client.deployments.capabilities.get("rc7-dep")
    eq(cp.deployment_id, "rc7-dep", "deployment_id")
    eq(cp.capabilities, {"cap_port": 9}, "capabilities")


def dep_get_missing():
    client_error(404, "not_found_error", client.deployments.get, "no-such-dep")




def dep_unicode_input():
    # dsl_parser 7.0.5's ASCII check (tasks.py:58-65) is dead code on Python 3: a real 7.x manager accepts it
    client.deployments.create("rc7-hello", "rc7-dep-uni", inputs={"greeting": u"h\u00e9llo \u2603"})
    wait_env("rc7-dep-uni")
    eq(client.deployments.outputs.get("rc7-dep-uni").outputs["greeting_out"], u"h\u00e9llo \u2603", "output")
    client.deployments.delete("rc7-dep-uni")


c.run("deployments.create with a non-ASCII input value (accepted by 7.0.5 on Python 3)", dep_unicode_input)
c.run("deployments.get: inputs, outputs, workflows, _include", dep_get)
c.run("deployments.list: filter by blueprint_id, sort, _include", dep_list)
c.run("deployments.outputs.get(rc7-dep) evaluates the outputs", dep_outputs)
c.run("deployments.capabilities.get(rc7-dep)", dep_capabilities)
c.run("deployments.get(missing) -> 404 not_found_error", dep_get_missing)

# --- nodes and node instances ------------------------------------------------------


def nodes_list():
    nodes = client.nodes.list(deployment_id="rc7-dep")
    eq(sorted(n.id for n in nodes), ["app", "server"], "node ids")
    app = [n for n in nodes if n.id == "app"][0]
    eq([(r["type"], r["target_id"]) for r in app.relationships],
       [("cloudify.relationships.contained_in", "server")], "app.relationships")
    eq(app.host_id, None, "host_id (no cloudify.nodes.Compute host)")
    eq(app.type, "cloudify.nodes.Root", "type")
    eq(app.number_of_instances, 1, "number_of_instances")
    workers = client.nodes.get("rc7-multi-dep", "worker")
    eq(workers.number_of_instances, 3, "worker.number_of_instances")


def instances_list():
    lst = client.node_instances.list(deployment_id="rc7-multi-dep")
    eq(len(lst), 4, "instances of rc7-multi-dep (3 workers + 1)")
    eq(lst.metadata.pagination.total, 4, "total")
    w = client.node_instances.list(deployment_id="rc7-multi-dep", node_id="worker")
    eq(len(w), 3, "worker instances")
    for ni in w:
        eq(ni.state, "uninitialized", "state")
        assert ni.id.startswith("worker_"), ni.id
    page = client.node_instances.list(deployment_id="rc7-multi-dep", _size=2, _offset=2, sort="id")
    eq(len(page), 2, "page size")
    eq(page.metadata.pagination.offset, 2, "offset")


state = {}


def instance_update():
    # on rc7-multi-dep, which is never installed (rc7-dep is installed by a real execution below)
    ni = client.node_instances.list(deployment_id="rc7-multi-dep", node_id="lonely")[0]
    got = client.node_instances.get(ni.id)
    eq(got.node_id, "lonely", "node_id")
    eq(got.deployment_id, "rc7-multi-dep", "deployment_id")
    v = got.version
    up = client.node_instances.update(ni.id, state="started", runtime_properties={"ip": "10.0.0.1"},
                                      version=v)
    eq(up.state, "started", "state after update")
    eq(up.runtime_properties, {"ip": "10.0.0.1"}, "runtime_properties after update")
    assert up.version > v, (up.version, v)
    again = client.node_instances.get(ni.id)
    eq(again.runtime_properties, {"ip": "10.0.0.1"}, "stored runtime_properties")
    eq(again.state, "started", "stored state")
    state["ni"] = (ni.id, v)


def instance_update_stale():
    ni_id, stale = state["ni"]
    e = client_error(409, None, client.node_instances.update, ni_id, runtime_properties={"ip": "x"},
                     version=stale)
    assert e.error_code in ("conflict_error",), e.error_code
    eq(client.node_instances.get(ni_id).runtime_properties, {"ip": "10.0.0.1"}, "unchanged")


def instance_get_include():
    ni_id = state["ni"][0]
    got = client.node_instances.get(ni_id, _include=["id", "runtime_properties"])
    eq(sorted(got.keys()), ["id", "runtime_properties"], "keys")


c.run("nodes.list / nodes.get", nodes_list)
c.run("node_instances.list: filters, total, _size/_offset", instances_list)
c.run("node_instances.get + update(state, runtime_properties, version)", instance_update)
c.run("node_instances.update with a stale version -> 409", instance_update_stale)
c.run("node_instances.get(_include)", instance_get_include)


def ni_get_missing():
    client_error(404, "not_found_error", client.node_instances.get, "no_such_instance")


c.run("node_instances.get(missing) -> 404", ni_get_missing)

# --- executions ---------------------------------------------------------------------

ENDED = ("terminated", "failed", "cancelled")


def follow(ex_id, until=ENDED, timeout=30.0):
    """Polls executions.get like a client waiting on a real manager; returns the last execution."""
    deadline = time.time() + timeout
    ex = client.executions.get(ex_id)
    while ex.status not in until and time.time() < deadline:
        time.sleep(0.1)
        ex = client.executions.get(ex_id)
    return ex


def instances(dep_id):
    return dict((ni.id, ni) for ni in client.node_instances.list(deployment_id=dep_id, _get_all_results=True))


def exec_install():
    ex = client.executions.start("rc7-dep", "install")
    eq(ex.workflow_id, "install", "workflow_id")
    eq(ex.deployment_id, "rc7-dep", "deployment_id")
    assert ex.status in ("pending", "started"), ex.status
    state["ex"] = ex.id
    got = client.executions.get(ex.id)
    eq(got.id, ex.id, "id")
    eq(got.workflow_id, "install", "workflow_id")
    eq(got.blueprint_id, "rc7-hello", "blueprint_id")
    assert got.created_at, got
    done = follow(ex.id)
    eq(done.status, "terminated", "status at the end (error: %r)" % done.error)
    assert not done.error, done.error
    assert done.ended_at, done
    assert done.started_at, done
    # (the reference also counts its local tasks — state changes, events — so only a lower bound)
    assert done.total_operations >= 4, done.total_operations
    eq(done.finished_operations, done.total_operations, "finished_operations")


def exec_install_effects():
    nis = instances("rc7-dep")
    eq(sorted((ni.node_id, ni.state) for ni in nis.values()), [("app", "started"), ("server", "started")],
       "node instance states after install")
    by_node = dict((ni.node_id, ni) for ni in nis.values())
    eq(by_node["server"].runtime_properties, {"ip": "10.1.2.3"}, "server runtime_properties")
    eq(by_node["app"].runtime_properties, {"configured": True, "greeting": "hello-rc7"},
       "app runtime_properties (an operation input from get_input)")
    assert by_node["server"].version > 1, by_node["server"].version
    eq(client.deployments.get("rc7-dep").installation_status, "active", "installation_status")
    o = client.deployments.outputs.get("rc7-dep")
    eq(o.outputs, {"greeting_out": "hello-rc7", "endpoint": "http://hello-rc7:9", "server_ip": "10.1.2.3"},
       "outputs after install (get_attribute of a runtime property)")


def exec_bad_workflow():
    e = raises(CloudifyClientError, client.executions.start, "rc7-dep", "no_such_workflow")
    eq(e.status_code, 400, "status_code")
    contains(str(e), "no_such_workflow")


def exec_bad_params():
    from cloudify_rest_client.exceptions import IllegalExecutionParametersError
    e = raises(IllegalExecutionParametersError, client.executions.start, "rc7-multi-dep", "install",
               parameters={"nope": 1})
    eq(e.status_code, 400, "status_code")


def exec_list():
    lst = client.executions.list(deployment_id="rc7-dep")
    wf = [e.workflow_id for e in lst]
    eq(wf, ["install"], "non-system executions of rc7-dep")
    lst = client.executions.list(deployment_id="rc7-dep", include_system_workflows=True, sort="created_at")
    wf = [e.workflow_id for e in lst]
    eq(wf, ["create_deployment_environment", "install"], "with system workflows, by created_at")
    lst = client.executions.list(_include=["id", "status"], deployment_id="rc7-dep")
    eq(sorted(lst[0].keys()), ["id", "status"], "keys with _include")
    lst = client.executions.list(status="terminated", include_system_workflows=True)
    assert state["ex"] in [e.id for e in lst], "status=terminated filter"
    lst = client.executions.list(status="pending", include_system_workflows=True)
    assert state["ex"] not in [e.id for e in lst], "status=pending filter"


def exec_get_missing():
    client_error(404, "not_found_error", client.executions.get, "00000000-0000-0000-0000-000000000000")


c.run("executions.start(rc7-dep, install); executions.get; followed to terminated", exec_install)
c.run("after install: instances started with runtime properties, installation_status active, outputs",
      exec_install_effects)
c.run("executions.start of an unknown workflow -> 400", exec_bad_workflow)
c.run("executions.start with unknown parameters -> IllegalExecutionParametersError", exec_bad_params)
c.run("executions.list: system workflows, sort, _include, status filter", exec_list)
c.run("executions.get(missing) -> 404", exec_get_missing)

# --- a slow execution: busy, kill, resume, queue, cancel, force-cancel ------------------
SLOW = 3  # seconds the start operation of blueprints/slow sleeps


def slow_box():
    nis = list(instances("rc7-slow").values())
    eq(len(nis), 1, "instances of rc7-slow")
    return nis[0]


def slow_running():
    client.blueprints.upload(cfg.blueprint("slow"), "rc7-slow")
    wait_uploaded("rc7-slow")
    client.deployments.create("rc7-slow", "rc7-slow", inputs={"seconds": SLOW})
    wait_env("rc7-slow")
    ex = client.executions.start("rc7-slow", "install")
    state["slow"] = ex.id
    ex = follow(ex.id, until=("started",) + ENDED)
    eq(ex.status, "started", "status while the start operation sleeps")
    for _ in range(50):
        if slow_box().state == "starting":
            break
        time.sleep(0.1)
    eq(slow_box().state, "starting", "box state while its start operation runs")
    eq(slow_box().runtime_properties, {"created": True}, "runtime properties of the finished create")


def slow_busy():
    # a second execution while one is running: refused unless queued/forced
    e = client_error(400, "existing_running_execution_error", client.executions.start, "rc7-slow", "install")
    contains(str(e), "running")


def slow_kill():
    t0 = time.time()
    ex = client.executions.cancel(state["slow"], kill=True)
    eq(ex.status, "kill_cancelling", "status right after kill")
    ex = follow(state["slow"])
    eq(ex.status, "cancelled", "status after kill")
    assert time.time() - t0 < SLOW - 0.5, "kill waited for the operation (%.1f s)" % (time.time() - t0)
    assert ex.ended_at, ex
    eq(slow_box().state, "starting", "box state after the kill (start never finished)")
    evs = [e.get("event_type") for e in client.events.list(execution_id=ex.id, _size=1000, sort="@timestamp")]
    contains(evs, "workflow_cancelled", "events of the killed execution")


def slow_cancel_ended():
    e = client_error(400, "illegal_action_error", client.executions.cancel, state["slow"])
    contains(str(e), "cancelled")
    client_error(400, "illegal_action_error", client.executions.cancel, state["ex"], force=True)


def slow_resume():
    ex = client.executions.resume(state["slow"])
    eq(ex.id, state["slow"], "id")
    assert ex.status in ("pending", "started"), ex.status
    ex = follow(state["slow"])
    eq(ex.status, "terminated", "a resumed install runs to the end")
    eq(slow_box().state, "started", "box state")
    eq(client.deployments.outputs.get("rc7-slow").outputs, {"created": True}, "outputs")
    eq(client.deployments.get("rc7-slow").installation_status, "active", "installation_status")


def slow_queue_cancel():
    # reinstall (force: start a new install over the installed deployment after uninstalling)
    un = client.executions.start("rc7-slow", "uninstall")
    eq(follow(un.id).status, "terminated", "uninstall")
    eq(slow_box().state, "deleted", "box state after uninstall")
    eq(client.deployments.get("rc7-slow").installation_status, "inactive", "installation_status")
    first = client.executions.start("rc7-slow", "install")
    eq(follow(first.id, until=("started",) + ENDED).status, "started", "second install running")
    queued = client.executions.start("rc7-slow", "uninstall", queue=True)
    eq(queued.status, "queued", "status of a queued execution")
    time.sleep(0.3)
    eq(client.executions.get(queued.id).status, "queued", "still queued while the install runs")
    ex = client.executions.cancel(first.id)
    eq(ex.status, "cancelling", "status right after cancel")
    eq(client.executions.get(first.id).status, "cancelling", "stored status while cancelling")
    ex = follow(first.id)
    eq(ex.status, "cancelled", "status after cancel")
    ex = follow(queued.id)
    eq(ex.status, "terminated", "the queued uninstall started when the install ended, and finished")
    eq(slow_box().state, "deleted", "box state after the queued uninstall")


def slow_force():
    first = client.executions.start("rc7-slow", "install")
    eq(follow(first.id, until=("started",) + ENDED).status, "started", "install running")
    forced = client.executions.start("rc7-slow", "install", force=True)
    assert forced.status in ("pending", "started"), forced.status
    ex = client.executions.cancel(first.id, force=True)
    eq(ex.status, "force_cancelling", "status right after force-cancel")
    client.executions.cancel(forced.id, kill=True)
    for ex_id in (first.id, forced.id):
        eq(follow(ex_id).status, "cancelled", "status after force-cancel/kill")


c.run("executions.start(rc7-slow, install) runs: started, instance starting", slow_running)
c.run("executions.start while one is running -> 400 existing_running_execution_error", slow_busy)
c.run("executions.cancel(kill=True) of the running install -> kill_cancelling -> cancelled at once", slow_kill)
c.run("executions.cancel of an ended execution -> 400 illegal_action_error", slow_cancel_ended)
c.run("executions.resume(cancelled install) runs it to terminated", slow_resume)
c.run("uninstall; install + queue=True uninstall; cancel -> cancelling -> cancelled; queued one runs",
      slow_queue_cancel)
c.run("executions.start(force=True) beside a running one; force-cancel -> force_cancelling", slow_force)

# --- events -------------------------------------------------------------------------


def events_list():
    ex = client.executions.list(deployment_id="rc7-dep", include_system_workflows=True,
                                workflow_id="create_deployment_environment")[0]
    evs = client.events.list(execution_id=ex.id, include_logs=True, sort="@timestamp")
    assert len(evs) > 0, "no events for create_deployment_environment"
    eq(evs.metadata.pagination.total, len(evs), "total")
    for ev in evs:
        assert ev.get("type") in ("cloudify_event", "cloudify_log"), ev
        assert ev.get("timestamp") or ev.get("@timestamp") or ev.get("reported_timestamp"), ev
    types = [ev.get("event_type") for ev in evs if ev.get("type") == "cloudify_event"]
    assert "workflow_started" in types or "workflow_succeeded" in types, types
    only_events = client.events.list(execution_id=ex.id, include_logs=False)
    assert all(ev.get("type") == "cloudify_event" for ev in only_events), only_events
    state["events"] = len(evs)


def events_range():
    ex = client.executions.list(deployment_id="rc7-dep", include_system_workflows=True,
                                workflow_id="create_deployment_environment")[0]
    now = datetime.datetime.utcnow()
    past = now - datetime.timedelta(days=3650)
    future = now + datetime.timedelta(days=1)
    got = client.events.list(execution_id=ex.id, include_logs=True, from_datetime=past, to_datetime=future)
    eq(len(got), state.get("events"), "events in a range covering everything")
    got = client.events.list(execution_id=ex.id, include_logs=True, from_datetime=future)
    eq(len(got), 0, "events from tomorrow")
    got = client.events.list(execution_id=ex.id, include_logs=True, to_datetime=past)
    eq(len(got), 0, "events until ten years ago")
    got = client.events.list(deployment_id="rc7-dep", include_logs=True, _size=1)
    eq(len(got), 1, "_size=1")


def events_install():
    evs = client.events.list(execution_id=state["ex"], include_logs=True, sort="@timestamp", _size=1000)
    eq(evs.metadata.pagination.total, len(evs), "total")
    types = [ev.get("event_type") for ev in evs if ev.get("type") == "cloudify_event"]
    for want in ("workflow_started", "sending_task", "task_started", "task_succeeded", "workflow_succeeded"):
        contains(types, want, "event types of the install")
    assert types.index("workflow_started") < types.index("task_succeeded"), types
    eq(types[-1], "workflow_succeeded", "last event")
    eq(types.count("task_succeeded"), 4, "task_succeeded events (one per operation)")
    tasks = [ev for ev in evs if ev.get("event_type") == "task_succeeded"]
    for ev in tasks:
        eq(ev.get("deployment_id"), "rc7-dep", "deployment_id of a task event")
        eq(ev.get("execution_id"), state["ex"], "execution_id")
        eq(ev.get("workflow_id"), "install", "workflow_id")
        assert ev.get("node_instance_id") in instances("rc7-dep"), ev
        assert (ev.get("operation") or "").startswith("cloudify.interfaces.lifecycle."), ev
        eq(ev.get("node_name"), ev.get("node_instance_id").rsplit("_", 1)[0], "node_name")
    stamps = [ev.get("timestamp") for ev in evs]
    eq(stamps, sorted(stamps), "sorted by @timestamp")
    only_events = client.events.list(execution_id=state["ex"], include_logs=False, _size=1000)
    assert all(ev.get("type") == "cloudify_event" for ev in only_events), only_events
    # a time range from the first task_succeeded on: exactly the events at or after it
    mid = tasks[0].get("timestamp")
    got = client.events.list(execution_id=state["ex"], include_logs=True, from_datetime=mid, _size=1000)
    eq(len(got), len([s for s in stamps if s >= mid]), "events from %s" % mid)
    assert all(ev.get("timestamp") >= mid for ev in got), got
    got = client.events.list(execution_id=state["ex"], include_logs=True, to_datetime=mid, _size=1000)
    eq(len(got), len([s for s in stamps if s <= mid]), "events until %s" % mid)
    got = client.events.list(execution_id=state["ex"], include_logs=True, event_type="task_succeeded")
    eq(len(got), 4, "event_type=task_succeeded filter")


c.run("events.list(execution_id, include_logs, sort)", events_list)
c.run("events.list with from_datetime/to_datetime ranges and _size", events_range)
c.run("events.list of the install: workflow/task events in order, fields, ranges, event_type", events_install)


# --- secrets ------------------------------------------------------------------------


def secrets_flow():
    s = client.secrets.create("rc7_secret", "v1")
    eq(s.key, "rc7_secret", "key")
    eq(client.secrets.get("rc7_secret").value, "v1", "value")
    lst = client.secrets.list()
    keys = [x.key for x in lst]
    assert "rc7_secret" in keys, keys
    for x in lst:
        assert not x.get("value"), "list shows a value: %r" % (x,)
    client_error(409, "conflict_error", client.secrets.create, "rc7_secret", "v2")
    client.secrets.create("rc7_secret", "v2", update_if_exists=True)
    eq(client.secrets.get("rc7_secret").value, "v2", "value after update_if_exists")
    client.secrets.update("rc7_secret", "v3")
    eq(client.secrets.get("rc7_secret").value, "v3", "value after update")
    client.secrets.delete("rc7_secret")
    client_error(404, "not_found_error", client.secrets.get, "rc7_secret")


c.run("secrets create/get/list/409/update_if_exists/update/delete", secrets_flow)

# --- users, tenants, tokens --------------------------------------------------------------


def users_tenants():
    u = client.users.create("rc7-user", "rc7-password", "default")
    eq(u.username, "rc7-user", "username")
    t = client.tenants.create("rc7-tenant")
    eq(t.name, "rc7-tenant", "name")
    assert "rc7-tenant" in [x.name for x in client.tenants.list()]
    client.tenants.add_user("rc7-user", "rc7-tenant", "user")
    got = client.tenants.get("rc7-tenant")
    assert "rc7-user" in got.get("users", {}), got
    assert "rc7-tenant" in client.users.get("rc7-user").get("tenants", {}), client.users.get("rc7-user")
    client_error(409, "conflict_error", client.tenants.create, "rc7-tenant")
    # the new user sees the tenant's (empty) blueprints, not default_tenant's
    as_user = CloudifyClient(host=cfg.host, port=cfg.port, username="rc7-user", password="rc7-password",
                             tenant="rc7-tenant")
    eq([b.id for b in as_user.blueprints.list()], [], "blueprints seen in rc7-tenant")
    in_default = CloudifyClient(host=cfg.host, port=cfg.port, username="rc7-user", password="rc7-password",
                                tenant="default_tenant")
    e = raises(CloudifyClientError, in_default.blueprints.list)
    assert e.status_code in (401, 403), e.status_code
    client.tenants.remove_user("rc7-user", "rc7-tenant")
    client.tenants.delete("rc7-tenant")
    assert "rc7-tenant" not in [x.name for x in client.tenants.list()]
    client.users.delete("rc7-user")
    client_error(404, "not_found_error", client.users.get, "rc7-user")


def tokens():
    tok = client.tokens.create(description="rc7 token")
    assert tok.value, tok
    by_token = CloudifyClient(host=cfg.host, port=cfg.port, token=tok.value, tenant="default_tenant")
    ids = [b.id for b in by_token.blueprints.list()]
    assert "rc7-hello" in ids, ids
    eq(by_token.manager.get_status().get("status"), "OK", "status via token")
    listed = client.tokens.list()
    assert tok.id in [t.id for t in listed], listed
    client.tokens.delete(tok.id)
    e = raises(CloudifyClientError, by_token.blueprints.list)
    eq(e.status_code, 401, "status after the token was deleted")


c.run("users.create, tenants.create/list/add_user/get/remove_user/delete, users.delete", users_tenants)
c.run("tokens.create, CloudifyClient(token=...), tokens.list/delete", tokens)

# --- more of the manager API that cfy and the client use ----------------------------------


def manager_misc():
    ctx = client.manager.get_context()
    assert "context" in ctx and "name" in ctx, ctx
    cfg_items = list(client.manager.get_config())
    assert all("name" in i and "value" in i for i in cfg_items), cfg_items
    mgrs = client.manager.get_managers()
    assert len(mgrs) >= 1, mgrs
    assert mgrs[0].get("hostname"), mgrs[0]


def users_self():
    me = client.users.get_self()
    eq(me.username, "admin", "username")
    eq(me.role, "sys_admin", "role")


def plugins_list():
    lst = client.plugins.list()
    eq(lst.metadata.pagination.total, len(lst), "total")


def exec_dry_run():
    # on its own installed deployment, so that a dry run that did change something spoils no other check
    client.deployments.create("rc7-hello", "rc7-dry", inputs={"greeting": "dry"})
    wait_env("rc7-dry")
    eq(follow(client.executions.start("rc7-dry", "install").id).status, "terminated", "install")
    dry = client.executions.start("rc7-dry", "uninstall", dry_run=True)
    got = client.executions.get(dry.id)
    eq(got.is_dry_run, True, "is_dry_run")
    eq(got.parameters.get("ignore_failure"), False, "default parameter filled in")
    eq(follow(dry.id).status, "terminated", "a dry run ends")
    state["dry"] = dry.id


def exec_dry_run_effects():
    # cloudify/workflows/workflow_context.py:281 (set_state returns a NOP task during a dry run) and
    # :861 (operations become DryRunLocalWorkflowTask, lambda: None): nothing runs, no state changes
    eq(sorted(ni.state for ni in instances("rc7-dry").values()), ["started", "started"],
       "instance states after a dry-run uninstall")
    eq(client.deployments.get("rc7-dry").installation_status, "active", "installation_status")
    ran = client.events.list(execution_id=state["dry"], event_type="task_succeeded")
    for ev in ran:
        contains(ev.get("message") or "", "dry run", "task event of a dry run")


def get_all_results():
    lst = client.deployments.list(_get_all_results=True)
    assert "rc7-dep" in [d.id for d in lst], lst
    lst = client.node_instances.list(deployment_id="rc7-multi-dep", _get_all_results=True)
    eq(len(lst), 4, "instances")


c.run("manager.get_context/get_config/get_managers", manager_misc)
c.run("users.get_self() (GET /user)", users_self)
c.run("plugins.list()", plugins_list)
c.run("executions.start(uninstall, dry_run=True) -> is_dry_run, defaults, terminated", exec_dry_run)
c.run("a dry-run uninstall leaves instances started and runs no operation", exec_dry_run_effects)
c.run("list(_get_all_results=True)", get_all_results)


# --- cleanup: deletes -----------------------------------------------------------------------


def bp_delete_in_use():
    client_error(400, None, client.blueprints.delete, "rc7-hello")


def uninstall():
    ex = client.executions.start("rc7-dep", "uninstall")
    eq(ex.workflow_id, "uninstall", "workflow_id")
    eq(follow(ex.id).status, "terminated", "uninstall status")
    eq(sorted(ni.state for ni in instances("rc7-dep").values()), ["deleted", "deleted"], "instance states")
    eq(client.deployments.get("rc7-dep").installation_status, "inactive", "installation_status")
    types = [ev.get("event_type") for ev in client.events.list(execution_id=ex.id, _size=1000)]
    eq(types.count("task_succeeded"), 2, "task_succeeded events (stop and delete of server; app has none)")
    eq(types[-1], "workflow_succeeded", "last event")


def dep_delete():
    # rc7-dep was uninstalled: deleted without force
    client.deployments.delete("rc7-dep")
    # rc7-multi-dep has a live instance (set by node_instances.update above): refused without force
    e = raises(CloudifyClientError, client.deployments.delete, "rc7-multi-dep")
    eq(e.status_code, 400, "status_code for live instances")
    client.deployments.delete("rc7-multi-dep", force=True)
    client.deployments.delete("rc7-slow", force=True)
    client.deployments.delete("rc7-dry", force=True)
    for _ in range(100):
        ids = [d.id for d in client.deployments.list()]
        if not set(ids) & set(["rc7-dep", "rc7-multi-dep", "rc7-slow", "rc7-dry"]):
            break
        time.sleep(0.1)
    ids = [d.id for d in client.deployments.list()]
    assert not set(ids) & set(["rc7-dep", "rc7-multi-dep", "rc7-slow", "rc7-dry"]), ids


def bp_delete():
    for b in ("rc7-hello", "rc7-multi", "rc7-ves", "rc7-slow"):
        try:
            client.blueprints.delete(b)
        except CloudifyClientError as e:
            if not (b == "rc7-ves" and e.status_code == 404):
                raise
    ids = [b.id for b in client.blueprints.list()]
    for b in ("rc7-hello", "rc7-multi", "rc7-ves", "rc7-slow"):
        assert b not in ids, ids
    client_error(404, "not_found_error", client.blueprints.delete, "rc7-hello")


c.run("blueprints.delete of a blueprint in use -> 400", bp_delete_in_use)
c.run("executions.start(rc7-dep, uninstall) -> terminated, instances deleted, inactive", uninstall)
c.run("deployments.delete: after uninstall without force; refused with live instances, force=True deletes",
      dep_delete)
c.run("blueprints.delete (and 404 after)", bp_delete)

shutil.rmtree(work, ignore_errors=True)
c.finish()
