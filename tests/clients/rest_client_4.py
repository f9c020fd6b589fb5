# -*- coding: utf-8 -*-
"""cloudify-rest-client 4.3.3 (Python 2.7) against a running Stratus, unchanged.

Run with the py2 venv's python. See clientcheck.py for arguments/environment.
4.3.3 differs from 7.x where it matters to a server:
  - blueprint upload is a raw tar/zip body (PUT /blueprints/{id}?application_file_name=&visibility=),
    not multipart, and the response is expected to be the finished blueprint (upload was synchronous);
  - every call expects one exact status code and parses a JSON body, DELETE included (200 + JSON, not 204);
  - deployments.delete takes ignore_live_nodes (not force); executions.cancel posts {"action": "cancel"};
  - tokens.get() is GET /tokens returning a new token at the top level;
  - executions: start (force sent as the string "true"/"false"), get, list, cancel (cancel/force-cancel
    only: no kill, resume or queue in 4.3.3); events.get(execution_id) = GET /events?_sort=@timestamp.
Executions really run (stratus-builtin operations) and are followed to their end.
"""
from __future__ import print_function

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
c = Checks("cloudify-rest-client 4.3.3 (Python %d.%d) against %s" % (sys.version_info[0], sys.version_info[1],
                                                                       cfg.url))
client = CloudifyClient(host=cfg.host, port=cfg.port, username="admin", password=cfg.password,
                        tenant="default_tenant")
work = tempfile.mkdtemp(prefix="stratus-rc4-")
state = {}


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError("expected %s, got %s: %s" % (exc_type.__name__, type(e).__name__, e))
    raise AssertionError("expected %s, nothing was raised" % exc_type.__name__)


def client_error(status, error_code, fn, *args, **kwargs):
    e = raises(CloudifyClientError, fn, *args, **kwargs)
    eq(e.status_code, status, "status_code")
    if error_code:
        eq(e.error_code, error_code, "error_code")
    return e


def version():
    v = client.manager.get_version()
    assert v.get("version"), v


def status():
    s = client.manager.get_status()
    assert s.get("status"), s


def bad_password():
    bad = CloudifyClient(host=cfg.host, port=cfg.port, username="admin", password="nope", tenant="default_tenant")
    e = raises(UserUnauthorizedError, bad.blueprints.list)
    eq(e.status_code, 401, "status_code")


def context():
    ctx = client.manager.get_context()
    assert "context" in ctx, ctx


def user_self():
    me = client.users.get_self()
    eq(me.username, "admin", "username")


c.run("manager.get_version()", version)
c.run("manager.get_context() (GET /provider/context)", context)
c.run("users.get_self() (GET /user)", user_self)
c.run("manager.get_status()", status)
c.run("a wrong password raises UserUnauthorizedError (401)", bad_password)

# --- blueprints --------------------------------------------------------------------


def upload():
    bp = client.blueprints.upload(cfg.blueprint("hello"), "rc4-hello")
    eq(bp.id, "rc4-hello", "id")
    eq(bp.main_file_name, "blueprint.yaml", "main_file_name")
    # 4.x uploads were synchronous: the answer already holds the plan
    assert bp.plan and "greeting" in bp.plan["inputs"], bp


def publish_archive():
    zpath = os.path.join(work, "multi.zip")
    d = os.path.dirname(cfg.blueprint("multi"))
    with open(zpath, "wb") as f:
        f.write(zip_dir(d, "multi"))
    bp = client.blueprints.publish_archive(zpath, "rc4-multi", blueprint_filename="blueprint.yaml")
    eq(bp.id, "rc4-multi", "id")
    corpus_yaml = os.path.join(cfg.corpus, "k8s-ves.yaml")
    if os.path.exists(corpus_yaml):
        zpath = os.path.join(work, "ves.zip")
        with open(zpath, "wb") as f:
            f.write(zip_dir(cfg.corpus, "ves", {"k8s-ves.yaml": corpus_yaml}))
        bp = client.blueprints.publish_archive(zpath, "rc4-ves", blueprint_filename="k8s-ves.yaml",
                                               visibility="global")
        eq(bp.id, "rc4-ves", "id")
        eq(client.blueprints.get("rc4-ves").get("visibility"), "global", "visibility")


def bp_get_list():
    bp = client.blueprints.get("rc4-hello")
    eq(bp.description, "A small blueprint for the client compatibility tests.", "description")
    lst = client.blueprints.list(sort="id")
    ids = [b.id for b in lst]
    assert "rc4-hello" in ids and "rc4-multi" in ids, ids
    eq(ids, sorted(ids), "sorted")
    eq(lst.metadata.pagination.total, len(ids), "total")
    lst = client.blueprints.list(_include=["id"], id="rc4-multi")
    eq([dict(b) for b in lst], [{"id": "rc4-multi"}], "_include + filter")


def bp_missing():
    client_error(404, "not_found_error", client.blueprints.get, "nope")


c.run("blueprints.upload(yaml) rc4-hello returns the parsed blueprint", upload)
c.run("blueprints.publish_archive(zip) rc4-multi, corpus k8s-ves (visibility=global)", publish_archive)
c.run("blueprints.get / list (sort, _include, filter, pagination)", bp_get_list)
c.run("blueprints.get(missing) -> 404", bp_missing)

# --- deployments ---------------------------------------------------------------------


def wait_env(dep_id):
    for _ in range(100):
        lst = client.executions.list(deployment_id=dep_id, include_system_workflows=True)
        envs = [e for e in lst if e.workflow_id == "create_deployment_environment"]
        if envs and envs[0].status in ("terminated", "failed", "cancelled"):
            return envs[0]
        time.sleep(0.1)
    return envs[0] if envs else None


def dep_create():
    d = client.deployments.create("rc4-hello", "rc4-dep", inputs={"greeting": "hello-rc4", "port": 7})
    eq(d.id, "rc4-dep", "id")
    ex = wait_env("rc4-dep")
    assert ex is not None
    eq(ex.status, "terminated", "create_deployment_environment")
    client.deployments.create("rc4-multi", "rc4-multi-dep", inputs={"replicas": 3})
    wait_env("rc4-multi-dep")


def dep_errors():
    e = raises(MissingRequiredDeploymentInputError, client.deployments.create, "rc4-hello", "rc4-x", inputs={})
    eq(e.status_code, 400, "missing input status")
    raises(UnknownDeploymentInputError, client.deployments.create, "rc4-hello", "rc4-x",
           inputs={"greeting": "a", "bogus": 1})
    client_error(409, "conflict_error", client.deployments.create, "rc4-hello", "rc4-dep",
                 inputs={"greeting": "a"})


def dep_get_outputs():
    d = client.deployments.get("rc4-dep")
    eq(d.blueprint_id, "rc4-hello", "blueprint_id")
    eq(d.inputs, {"greeting": "hello-rc4", "port": 7}, "inputs")
    o = client.deployments.outputs.get("rc4-dep")
    # server_ip is get_attribute of a runtime property the install sets: null before it runs
    eq(o.outputs, {"greeting_out": "hello-rc4", "endpoint": "http://hello-rc4:7", "server_ip": None}, "outputs")
    ids = [x.id for x in client.deployments.list()]
    assert "rc4-dep" in ids and "rc4-multi-dep" in ids, ids


c.run("deployments.create + create_deployment_environment terminates", dep_create)
c.run("deployments.create errors: missing/unknown input, duplicate", dep_errors)
c.run("deployments.get / outputs.get / list", dep_get_outputs)

# --- executions, node instances ---------------------------------------------------------


ENDED = ("terminated", "failed", "cancelled")


def follow(ex_id, until=ENDED, timeout=30.0):
    deadline = time.time() + timeout
    ex = client.executions.get(ex_id)
    while ex.status not in until and time.time() < deadline:
        time.sleep(0.1)
        ex = client.executions.get(ex_id)
    return ex


def instances(dep_id):
    return list(client.node_instances.list(deployment_id=dep_id))


def executions():
    lst = client.executions.list(deployment_id="rc4-dep")
    eq([e.workflow_id for e in lst], [], "non-system executions")
    ex = client.executions.start("rc4-dep", "install")
    eq(ex.workflow_id, "install", "workflow_id")
    assert ex.status in ("pending", "started"), ex.status
    state["ex"] = ex.id
    lst = client.executions.list(deployment_id="rc4-dep")
    eq([e.id for e in lst], [ex.id], "listed")
    done = follow(ex.id)
    eq(done.status, "terminated", "status at the end (error: %r)" % done.error)
    assert not done.error, done.error
    eq([e.status for e in client.executions.list(deployment_id="rc4-dep")], ["terminated"], "listed status")


def after_install():
    nis = dict((ni.node_id, ni) for ni in instances("rc4-dep"))
    eq(sorted((k, v.state) for k, v in nis.items()), [("app", "started"), ("server", "started")], "states")
    eq(nis["server"].runtime_properties, {"ip": "10.1.2.3"}, "server runtime_properties")
    eq(nis["app"].runtime_properties, {"configured": True, "greeting": "hello-rc4"}, "app runtime_properties")
    o = client.deployments.outputs.get("rc4-dep")
    eq(o.outputs, {"greeting_out": "hello-rc4", "endpoint": "http://hello-rc4:7", "server_ip": "10.1.2.3"},
       "outputs after install")


def cancel_ended():
    e = client_error(400, None, client.executions.cancel, state["ex"])
    eq(e.error_code, "illegal_action_error", "error_code")
    eq(client.executions.get(state["ex"]).status, "terminated", "status")


def slow():
    client.blueprints.upload(cfg.blueprint("slow"), "rc4-slow")
    client.deployments.create("rc4-slow", "rc4-slow-dep", inputs={"seconds": 3})
    wait_env("rc4-slow-dep")
    ex = client.executions.start("rc4-slow-dep", "install")
    eq(follow(ex.id, until=("started",) + ENDED).status, "started", "status while start sleeps")
    e = client_error(400, "existing_running_execution_error", client.executions.start, "rc4-slow-dep", "install")
    contains(str(e), "running")
    forced = client.executions.start("rc4-slow-dep", "install", force=True)
    assert forced.status in ("pending", "started"), forced.status
    got = client.executions.cancel(forced.id, force=True)
    eq(got.status, "force_cancelling", "status right after force-cancel")
    got = client.executions.cancel(ex.id)
    eq(got.status, "cancelling", "status right after cancel")
    eq(follow(forced.id).status, "cancelled", "force-cancelled execution")
    eq(follow(ex.id).status, "cancelled", "cancelled execution")
    un = client.executions.start("rc4-slow-dep", "uninstall", parameters={"ignore_failure": True})
    eq(follow(un.id).status, "terminated", "uninstall")
    eq([ni.state for ni in instances("rc4-slow-dep")], ["deleted"], "state after uninstall")
    client.deployments.delete("rc4-slow-dep")


def node_instances():
    lst = client.node_instances.list(deployment_id="rc4-multi-dep", node_id="worker")
    eq(len(lst), 3, "worker instances")
    ni = lst[0]
    got = client.node_instances.get(ni.id)
    eq(got.state, "uninitialized", "state")
    up = client.node_instances.update(ni.id, state="started", runtime_properties={"k": "v"},
                                      version=got.version)
    eq(up.runtime_properties, {"k": "v"}, "runtime_properties")
    e = client_error(409, None, client.node_instances.update, ni.id, runtime_properties={"k": "w"},
                     version=got.version)
    assert e.error_code == "conflict_error", e.error_code
    state["live"] = ni.id


def nodes():
    ns = client.nodes.list(deployment_id="rc4-multi-dep")
    eq(sorted(n.id for n in ns), ["lonely", "worker"], "nodes")


c.run("executions.list/start/get, followed to terminated", executions)
c.run("after install: instances started with runtime properties, outputs (get_attribute)", after_install)
c.run("executions.cancel of a terminated execution -> 400 illegal_action_error", cancel_ended)
c.run("slow install: busy 400, force=True, cancel -> cancelling, force-cancel -> force_cancelling, uninstall",
      slow)
c.run("node_instances.list/get/update(version) and stale version -> 409", node_instances)
c.run("nodes.list", nodes)


def events():
    ex = [e for e in client.executions.list(deployment_id="rc4-dep", include_system_workflows=True)
          if e.workflow_id == "create_deployment_environment"][0]
    evs, total = client.events.get(ex.id, include_logs=True)
    assert total >= 1 and len(evs) >= 1, (evs, total)
    evs, total = client.events.get(state["ex"], include_logs=True)
    eq(total, len(evs), "total")
    types = [e.get("event_type") for e in evs]
    for want in ("workflow_started", "sending_task", "task_started", "task_succeeded", "workflow_succeeded"):
        assert want in types, (want, types)
    eq(types[-1], "workflow_succeeded", "last event (sorted by @timestamp)")
    eq(types.count("task_succeeded"), 4, "task_succeeded events")
    page, total2 = client.events.get(state["ex"], from_event=2, batch_size=3, include_logs=True)
    eq((len(page), total2), (3, total), "a page of 3 from event 2")
    eq([e.get("timestamp") for e in page], [e.get("timestamp") for e in evs[2:5]], "the same events")
    later = client.events.list(execution_id=state["ex"], include_logs=True, _size=1000,
                               from_datetime=evs[len(evs) // 2].get("timestamp"))
    eq(len(later), len([e for e in evs if e.get("timestamp") >= evs[len(evs) // 2].get("timestamp")]),
       "events from a timestamp on")


c.run("events.get(execution_id, include_logs) (4.x: returns events and total), of the install too", events)

# --- secrets, tenants, users, tokens --------------------------------------------------------


def secrets():
    s = client.secrets.create("rc4_secret", "v1")
    eq(s.key, "rc4_secret", "key")
    eq(client.secrets.get("rc4_secret").value, "v1", "value")
    assert "rc4_secret" in [x.key for x in client.secrets.list()]
    client.secrets.update("rc4_secret", "v2")
    eq(client.secrets.get("rc4_secret").value, "v2", "value after update")
    client.secrets.delete("rc4_secret")
    client_error(404, "not_found_error", client.secrets.get, "rc4_secret")


def tenants():
    client.users.create("rc4-user", "rc4-password", "default")
    t = client.tenants.create("rc4-tenant")
    eq(t.name, "rc4-tenant", "name")
    assert "rc4-tenant" in [x.name for x in client.tenants.list()]
    client.tenants.add_user("rc4-user", "rc4-tenant", "user")
    assert "rc4-user" in client.tenants.get("rc4-tenant").users, client.tenants.get("rc4-tenant")
    client.tenants.remove_user("rc4-user", "rc4-tenant")
    client.tenants.delete("rc4-tenant")
    assert "rc4-tenant" not in [x.name for x in client.tenants.list()]
    client.users.delete("rc4-user")


def tokens():
    tok = client.tokens.get()
    assert tok.value, tok
    by_token = CloudifyClient(host=cfg.host, port=cfg.port, token=tok.value, tenant="default_tenant")
    assert "rc4-hello" in [b.id for b in by_token.blueprints.list()]


c.run("secrets create/get/list/update/delete", secrets)
c.run("users.create, tenants create/list/add_user/get/remove_user/delete, users.delete", tenants)
c.run("tokens.get() (GET /tokens) and CloudifyClient(token=...)", tokens)

# --- deleting ------------------------------------------------------------------------------


def uninstall():
    ex = client.executions.start("rc4-dep", "uninstall", parameters={"ignore_failure": True})
    eq(follow(ex.id).status, "terminated", "uninstall status")
    eq(sorted(ni.state for ni in instances("rc4-dep")), ["deleted", "deleted"], "states after uninstall")


c.run("executions.start(uninstall, ignore_failure) followed to terminated; instances deleted", uninstall)


def dep_delete():
    e = raises(CloudifyClientError, client.deployments.delete, "rc4-multi-dep")
    eq(e.status_code, 400, "live instances")
    d = client.deployments.delete("rc4-multi-dep", ignore_live_nodes=True)
    eq(d.id, "rc4-multi-dep", "deleted deployment body")
    client.deployments.delete("rc4-dep")  # uninstalled: no live nodes
    for _ in range(100):
        ids = [x.id for x in client.deployments.list()]
        if "rc4-dep" not in ids and "rc4-multi-dep" not in ids:
            break
        time.sleep(0.1)
    assert "rc4-dep" not in ids and "rc4-multi-dep" not in ids, ids


def bp_delete():
    for b in ("rc4-hello", "rc4-multi", "rc4-ves", "rc4-slow"):
        if b == "rc4-ves" and not os.path.exists(os.path.join(cfg.corpus, "k8s-ves.yaml")):
            continue
        got = client.blueprints.delete(b)
        eq(got.id, b, "deleted blueprint body")
    assert not [x for x in client.blueprints.list() if x.id.startswith("rc4-")]


c.run("deployments.delete: live nodes refused, ignore_live_nodes=True deletes", dep_delete)
c.run("blueprints.delete returns the deleted blueprint", bp_delete)

shutil.rmtree(work, ignore_errors=True)
c.finish()
