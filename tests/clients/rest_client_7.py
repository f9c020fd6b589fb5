"""cloudify-common 7.0.5's CloudifyClient against a running Stratus, unchanged.

Run with the py3 venv's python. See clientcheck.py for arguments/environment.
Executions stay `pending` (Stratus has no workflow engine yet); the checks
only look at what the REST layer stores and returns.
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
    eq(o.outputs, {"greeting_out": "hello-rc7", "endpoint": "http://hello-rc7:9"}, "outputs")


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
    ni = client.node_instances.list(deployment_id="rc7-dep", node_id="server")[0]
    got = client.node_instances.get(ni.id)
    eq(got.node_id, "server", "node_id")
    eq(got.deployment_id, "rc7-dep", "deployment_id")
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


def exec_start():
    ex = client.executions.start("rc7-dep", "install")
    eq(ex.workflow_id, "install", "workflow_id")
    eq(ex.deployment_id, "rc7-dep", "deployment_id")
    assert ex.status in ("pending", "queued", "started"), ex.status
    state["ex"] = ex.id
    got = client.executions.get(ex.id)
    eq(got.id, ex.id, "id")
    eq(got.workflow_id, "install", "workflow_id")
    eq(got.blueprint_id, "rc7-hello", "blueprint_id")
    assert got.created_at, got


def exec_start_busy():
    # a second execution while one is running: refused unless queued/forced
    e = client_error(400, "existing_running_execution_error", client.executions.start, "rc7-dep", "install")
    contains(str(e), "running")


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
    lst = client.executions.list(status="pending", include_system_workflows=True)
    assert state["ex"] in [e.id for e in lst], "status filter"


def exec_cancel():
    ex = client.executions.cancel(state["ex"])
    assert ex.status in ("cancelling", "cancelled"), ex.status
    for _ in range(50):
        if client.executions.get(state["ex"]).status == "cancelled":
            break
        time.sleep(0.1)
    eq(client.executions.get(state["ex"]).status, "cancelled", "status after cancel")


def exec_get_missing():
    client_error(404, "not_found_error", client.executions.get, "00000000-0000-0000-0000-000000000000")


c.run("executions.start(rc7-dep, install) -> pending; executions.get", exec_start)
c.run("executions.start while one is running -> 400 existing_running_execution_error", exec_start_busy)
c.run("executions.start of an unknown workflow -> 400", exec_bad_workflow)
c.run("executions.start with unknown parameters -> IllegalExecutionParametersError", exec_bad_params)
c.run("executions.list: system workflows, sort, _include, status filter", exec_list)
c.run("executions.cancel(pending execution) -> cancelled", exec_cancel)
c.run("executions.get(missing) -> 404", exec_get_missing)

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


c.run("events.list(execution_id, include_logs, sort)", events_list)
c.run("events.list with from_datetime/to_datetime ranges and _size", events_range)

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


def exec_flags():
    client.deployments.create("rc7-hello", "rc7-flags", inputs={"greeting": "f"})
    wait_env("rc7-flags")
    first = client.executions.start("rc7-flags", "install")
    queued = client.executions.start("rc7-flags", "install", queue=True)
    eq(queued.status, "queued", "status of a queued execution")
    forced = client.executions.start("rc7-flags", "install", force=True)
    assert forced.status in ("pending", "started"), forced.status
    dry = client.executions.get(client.executions.start("rc7-flags", "uninstall", force=True, dry_run=True).id)
    eq(dry.is_dry_run, True, "is_dry_run")
    eq(dry.parameters.get("ignore_failure"), False, "default parameter filled in")
    for ex in (first, queued, dry):
        client.executions.cancel(ex.id)
    client.executions.cancel(forced.id, force=True)
    for _ in range(50):
        left = [e for e in client.executions.list(deployment_id="rc7-flags")
                if e.status not in ("cancelled", "terminated", "failed")]
        if not left:
            break
        time.sleep(0.1)
    eq([(e.id, e.status) for e in left], [], "executions still running after cancel")
    client.deployments.delete("rc7-flags")


def get_all_results():
    lst = client.deployments.list(_get_all_results=True)
    assert "rc7-dep" in [d.id for d in lst], lst
    lst = client.node_instances.list(deployment_id="rc7-multi-dep", _get_all_results=True)
    eq(len(lst), 4, "instances")


c.run("manager.get_context/get_config/get_managers", manager_misc)
c.run("users.get_self() (GET /user)", users_self)
c.run("plugins.list()", plugins_list)
c.run("executions.start queue=True -> queued, force=True, dry_run=True; cancel all", exec_flags)
c.run("list(_get_all_results=True)", get_all_results)


# --- cleanup: deletes -----------------------------------------------------------------------


def bp_delete_in_use():
    client_error(400, None, client.blueprints.delete, "rc7-hello")


def dep_delete():
    # rc7-dep has a started instance (we set it above): refused without force
    e = raises(CloudifyClientError, client.deployments.delete, "rc7-dep")
    eq(e.status_code, 400, "status_code for live instances")
    client.deployments.delete("rc7-dep", force=True)
    client.deployments.delete("rc7-multi-dep")
    for _ in range(100):
        ids = [d.id for d in client.deployments.list()]
        if "rc7-dep" not in ids and "rc7-multi-dep" not in ids:
            break
        time.sleep(0.1)
    ids = [d.id for d in client.deployments.list()]
    assert "rc7-dep" not in ids and "rc7-multi-dep" not in ids, ids


def bp_delete():
    for b in ("rc7-hello", "rc7-multi", "rc7-ves"):
        try:
            client.blueprints.delete(b)
        except CloudifyClientError as e:
            if not (b == "rc7-ves" and e.status_code == 404):
                raise
    ids = [b.id for b in client.blueprints.list()]
    for b in ("rc7-hello", "rc7-multi", "rc7-ves"):
        assert b not in ids, ids
    client_error(404, "not_found_error", client.blueprints.delete, "rc7-hello")


c.run("blueprints.delete of a blueprint in use -> 400", bp_delete_in_use)
c.run("deployments.delete: refused with live instances, force=True deletes", dep_delete)
c.run("blueprints.delete (and 404 after)", bp_delete)

shutil.rmtree(work, ignore_errors=True)
c.finish()
