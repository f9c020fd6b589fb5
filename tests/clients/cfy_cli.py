"""The cfy 7.0.5 CLI against a running Stratus, unchanged.

Run with the py3 venv's python (cfy is found beside it). See clientcheck.py
for the arguments and environment.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clientcheck import Checks, Config, contains, eq, tar_gz_dir  # noqa: E402

cfg = Config()
CFY = os.path.join(os.path.dirname(sys.executable), "cfy")
work = tempfile.mkdtemp(prefix="stratus-cfy-")
env = dict(os.environ, CFY_WORKDIR=work, LC_ALL="C.UTF-8", LANG="C.UTF-8")
c = Checks("cfy 7.0.5 CLI against %s" % cfg.url)
# cfy shows an execution's status_display (`terminated` is shown as `completed`), --json included
ENDED = ("completed", "failed", "cancelled")


def cfy(*args, **kw):
    """Runs cfy; returns its combined output. Fails unless the exit code is `rc` (default 0)."""
    rc = kw.get("rc", 0)
    p = subprocess.run([CFY] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    shown = " ".join(args)
    print("      $ cfy %s  (exit %d)" % (shown, p.returncode))
    for line in out.rstrip().splitlines()[:40]:
        print("      > " + line)
    if rc is not None:
        assert p.returncode == rc, "cfy %s: exit %d (wanted %d):\n%s" % (shown, p.returncode, rc, out)
    return out


def cfy_json(*args):
    """Runs cfy with --json and parses the JSON document it prints."""
    out = cfy(*(list(args) + ["--json"]))
    start = min([i for i in (out.find("["), out.find("{")) if i >= 0] or [0])
    return json.loads(out[start:])


# --- profile and status -------------------------------------------------------
def profiles_use():
    out = cfy("profiles", "use", cfg.host, "--rest-port", str(cfg.port), "-u", "admin", "-p", cfg.password,
              "-t", "default_tenant")
    contains(out, "Using manager %s with port %d" % (cfg.host, cfg.port))


c.run("profiles use %s --rest-port %d -u admin -t default_tenant" % (cfg.host, cfg.port), profiles_use)


def status():
    out = cfy("status")
    contains(out, "Services:")
    contains(out, "Active")
    assert "Inactive" not in out, out


c.run("status lists services, all Active", status)


def profiles_show():
    out = cfy("profiles", "show-current")
    contains(out, cfg.host)
    contains(out, str(cfg.port))


c.run("profiles show-current shows the manager", profiles_show)

# --- blueprints -----------------------------------------------------------------
yaml_path = cfg.blueprint("hello")
archive = tar_gz_dir(os.path.dirname(yaml_path), "hello", os.path.join(work, "hello.tar.gz"))


def upload_yaml():
    out = cfy("blueprints", "upload", yaml_path, "-b", "cli-hello")
    contains(out, "Blueprint uploaded. The blueprint's id is cli-hello")


def upload_archive():
    out = cfy("blueprints", "upload", archive, "-b", "cli-archive", "-n", "blueprint.yaml")
    contains(out, "The blueprint's id is cli-archive")


def upload_bad_yaml():
    bad = os.path.join(work, "bad.yaml")
    with open(bad, "w") as f:
        f.write("tosca_definitions_version: cloudify_dsl_1_3\nnode_templates:\n  x:\n    type: no.such.Type\n")
    out = cfy("blueprints", "upload", bad, "-b", "cli-bad", rc=None)
    assert "no.such.Type" in out or "invalid" in out.lower() or "failed" in out.lower(), out
    assert "The blueprint's id is cli-bad" not in out, out


c.run("blueprints upload <yaml> -b cli-hello", upload_yaml)
c.run("blueprints upload <tar.gz> -b cli-archive -n blueprint.yaml", upload_archive)
c.run("blueprints upload of an invalid blueprint reports the problem", upload_bad_yaml)


def blueprints_list():
    out = cfy("blueprints", "list")
    contains(out, "cli-hello")
    contains(out, "cli-archive")
    contains(out, "uploaded")
    items = cfy_json("blueprints", "list")
    ids = sorted(b["id"] for b in items)
    assert "cli-hello" in ids and "cli-archive" in ids, ids
    by_id = dict((b["id"], b) for b in items)
    eq(by_id["cli-hello"]["main_file_name"], "blueprint.yaml", "main_file_name")
    eq(by_id["cli-hello"]["state"], "uploaded", "state")


c.run("blueprints list shows both (table and --json)", blueprints_list)


def blueprints_get():
    out = cfy("blueprints", "get", "cli-hello")
    contains(out, "cli-hello")
    contains(out, "A small blueprint")


c.run("blueprints get cli-hello", blueprints_get)


def blueprints_inputs():
    out = cfy("blueprints", "inputs", "cli-hello")
    contains(out, "greeting")
    contains(out, "8080")


c.run("blueprints inputs cli-hello", blueprints_inputs)

# --- deployments ----------------------------------------------------------------


def deployments_create():
    out = cfy("deployments", "create", "cli-dep", "-b", "cli-hello", "-i", "greeting=hello-cli", "-i",
              '{"port": 9}')
    contains(out, "Deployment `cli-dep` created")


def deployments_create_missing_input():
    out = cfy("deployments", "create", "cli-dep-bad", "-b", "cli-hello", rc=None)
    contains(out, "greeting", "missing-input error")
    assert "created" not in out, out


c.run("deployments create cli-dep -b cli-hello -i greeting=hello-cli -i '{\"port\": 9}'", deployments_create)
c.run("deployments create without a required input fails naming it", deployments_create_missing_input)


def deployments_list():
    out = cfy("deployments", "list")
    contains(out, "cli-dep")
    items = cfy_json("deployments", "list")
    d = [x for x in items if x["id"] == "cli-dep"]
    assert d, items
    eq(d[0]["blueprint_id"], "cli-hello", "blueprint_id")


c.run("deployments list shows cli-dep", deployments_list)


def deployments_list_by_blueprint():
    out = cfy("deployments", "list", "-b", "cli-hello")
    contains(out, "cli-dep")
    out = cfy("deployments", "list", "-b", "cli-archive")
    assert "cli-dep" not in out, out


c.run("deployments list -b filters by blueprint", deployments_list_by_blueprint)


def deployments_outputs():
    out = cfy("deployments", "outputs", "cli-dep")
    contains(out, "greeting_out")
    contains(out, "hello-cli")
    contains(out, "http://hello-cli:9")


c.run("deployments outputs cli-dep shows the evaluated outputs", deployments_outputs)


def deployments_capabilities():
    out = cfy("deployments", "capabilities", "cli-dep")
    contains(out, "cap_port")


c.run("deployments capabilities cli-dep", deployments_capabilities)


def deployments_inputs():
    out = cfy("deployments", "inputs", "cli-dep")
    contains(out, "hello-cli")


c.run("deployments inputs cli-dep", deployments_inputs)


def node_instances_list():
    out = cfy("node-instances", "list", "-d", "cli-dep")
    contains(out, "server_")
    contains(out, "app_")


c.run("node-instances list -d cli-dep", node_instances_list)


def nodes_list():
    out = cfy("nodes", "list", "-d", "cli-dep")
    contains(out, "server")
    contains(out, "app")


c.run("nodes list -d cli-dep", nodes_list)

# --- executions -----------------------------------------------------------------

def executions_list():
    out = cfy("executions", "list", "-d", "cli-dep")
    assert "create_deployment_environment" not in out, "system workflow listed without the flag:\n" + out
    out = cfy("executions", "list", "-d", "cli-dep", "--include-system-workflows")
    contains(out, "create_deployment_environment")
    items = cfy_json("executions", "list", "--include-system-workflows")
    wf = sorted(set(e["workflow_id"] for e in items))
    assert "create_deployment_environment" in wf, wf
    assert "upload_blueprint" in wf, wf


c.run("executions list hides system workflows; --include-system-workflows shows them", executions_list)


def events_list():
    items = cfy_json("executions", "list", "-d", "cli-dep", "--include-system-workflows")
    ex = [e for e in items if e["workflow_id"] == "create_deployment_environment"][0]
    cfy("events", "list", ex["id"])


c.run("events list <create_deployment_environment execution>", events_list)

state = {}


def in_order(out, *needles):
    at = -1
    for n in needles:
        i = out.find(n, at + 1)
        assert i > at, "%r not found after position %d in:\n%s" % (n, at, out)
        at = i


def executions_start_install():
    # cfy follows the execution to its end, printing its events as they come (wait_for_execution)
    out = cfy("executions", "start", "install", "-d", "cli-dep")
    in_order(out,
             "Executing workflow `install` on deployment `cli-dep`",
             "CFY <cli-dep> Starting 'install' workflow execution",
             "CFY <cli-dep> [server_",
             ".create] Sending task 'cloudify.interfaces.lifecycle.create on server_",
             ".create] Task succeeded 'cloudify.interfaces.lifecycle.create on server_",
             ".configure] Task succeeded 'cloudify.interfaces.lifecycle.configure on app_",
             ".start] Task succeeded 'cloudify.interfaces.lifecycle.start on app_",
             "CFY <cli-dep> 'install' workflow execution succeeded",
             "Finished executing workflow install on deployment cli-dep",
             "* Run 'cfy events list ")
    assert "Timed out" not in out and "failed" not in out, out
    items = cfy_json("executions", "list", "-d", "cli-dep")
    inst = [e for e in items if e["workflow_id"] == "install"]
    assert len(inst) == 1, items
    state["install"] = inst[0]["id"]
    contains(out, "cfy events list %s" % state["install"])


c.run("executions start install -d cli-dep follows the execution to the end and prints its events",
      executions_start_install)


def executions_get_ended():
    ex_id = state["install"]
    got = cfy_json("executions", "get", ex_id)
    eq(got["status"], "completed", "status (status_display of terminated)")
    eq(got["workflow_id"], "install", "workflow_id")
    assert got.get("ended_at"), got
    out = cfy("executions", "get", ex_id)
    contains(out, "install")
    contains(out, "completed")
    out = cfy("executions", "list", "-d", "cli-dep")
    contains(out, "completed")


c.run("executions get/list: install terminated (shown as completed)", executions_get_ended)


def installation_status(dep_id):
    return [d for d in cfy_json("deployments", "list") if d["id"] == dep_id][0]["installation_status"]


def after_install():
    out = cfy("node-instances", "list", "-d", "cli-dep")
    assert "uninitialized" not in out, out
    items = cfy_json("node-instances", "list", "-d", "cli-dep")
    eq(sorted((i["node_id"], i["state"]) for i in items), [("app", "started"), ("server", "started")], "states")
    server = [i for i in items if i["node_id"] == "server"][0]
    out = cfy("node-instances", "get", server["id"])
    contains(out, "started")
    contains(out, "10.1.2.3", "runtime properties shown by node-instances get")
    got = cfy_json("node-instances", "get", server["id"])
    eq(got["runtime_properties"], {"ip": "10.1.2.3"}, "runtime_properties")
    out = cfy("deployments", "outputs", "cli-dep")
    contains(out, "server_ip")
    contains(out, "10.1.2.3", "get_attribute output after install")
    eq(installation_status("cli-dep"), "active", "installation_status")


c.run("after install: node-instances started with runtime properties, outputs, installation_status",
      after_install)


def events_of_install():
    ex_id = state["install"]
    out = cfy("events", "list", ex_id)
    in_order(out, "Starting 'install' workflow execution", "Task succeeded",
             "'install' workflow execution succeeded")
    contains(out, "Showing")
    out = cfy("events", "list", ex_id, "--include-logs")
    contains(out, "Task succeeded")
    out = cfy("events", "list", ex_id, "--json")
    items = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    types = [e.get("event_type") for e in items]
    for want in ("workflow_started", "sending_task", "task_started", "task_succeeded", "workflow_succeeded"):
        contains(types, want, "event types")
    eq(types.count("task_succeeded"), 4, "task_succeeded events")


c.run("events list <install> (table, --include-logs, --json)", events_of_install)


def cancel_ended():
    out = cfy("executions", "cancel", state["install"], rc=1)
    contains(out, "400", "cancel of a terminated execution")
    eq(cfy_json("executions", "get", state["install"])["status"], "completed", "status")


c.run("executions cancel of a terminated execution is refused (400)", cancel_ended)


def delete_installed():
    out = cfy("deployments", "delete", "cli-dep", rc=1)
    contains(out, "live", "delete of an installed deployment")
    contains(cfy("deployments", "list"), "cli-dep")


c.run("deployments delete of an installed deployment is refused (live nodes)", delete_installed)

# --- a slow execution: timeout, busy, kill, resume, queue, cancel -------------------


def poll_status(ex_id, wanted, tries=60):
    got = None
    for _ in range(tries):
        got = cfy_json("executions", "get", ex_id)
        if got["status"] in wanted:
            return got
        time.sleep(0.2)
    return got


def slow_timeout():
    cfy("blueprints", "upload", cfg.blueprint("slow"), "-b", "cli-slow")
    cfy("deployments", "create", "cli-slow-dep", "-b", "cli-slow", "-i", '{"seconds": 10}')
    out = cfy("executions", "start", "install", "-d", "cli-slow-dep", "--timeout", "1", rc=1)
    in_order(out, "Executing workflow `install` on deployment `cli-slow-dep`",
             "Timed out waiting for workflow 'install' of deployment 'cli-slow-dep' to end")
    items = cfy_json("executions", "list", "-d", "cli-slow-dep")
    eq([(e["workflow_id"], e["status"]) for e in items], [("install", "started")], "executions")
    state["slow"] = items[0]["id"]
    box = cfy_json("node-instances", "list", "-d", "cli-slow-dep")[0]
    eq(box["state"], "starting", "instance state while start sleeps")


c.run("executions start install --timeout 1 on a slow install times out; it goes on running", slow_timeout)


def slow_busy():
    out = cfy("executions", "start", "install", "-d", "cli-slow-dep", rc=1)
    contains(out, "running", "second execution while one runs")
    assert "Finished executing" not in out, out


c.run("executions start while one is running is refused", slow_busy)


def slow_kill():
    out = cfy("executions", "cancel", state["slow"], "--kill")
    contains(out, "Killing execution %s" % state["slow"])
    contains(out, "A cancel request for execution %s has been sent" % state["slow"])
    got = poll_status(state["slow"], ("cancelled",))
    eq(got["status"], "cancelled", "status after kill")
    eq(cfy_json("node-instances", "list", "-d", "cli-slow-dep")[0]["state"], "starting",
       "state of the instance whose start was killed")
    out = cfy("events", "list", state["slow"])
    contains(out, "workflow execution cancelled")


c.run("executions cancel --kill of the running install -> cancelled", slow_kill)


def slow_resume_queue_cancel():
    ex_id = state["slow"]
    out = cfy("executions", "resume", ex_id)
    contains(out, "A resume request for execution %s has been sent" % ex_id)
    got = poll_status(ex_id, ("started",) + ENDED)
    eq(got["status"], "started", "status after resume (the killed start runs again)")
    out = cfy("executions", "start", "uninstall", "-d", "cli-slow-dep", "--queue")
    contains(out, "Execution is being queued. It will automatically start when possible.")
    items = cfy_json("executions", "list", "-d", "cli-slow-dep")
    queued = [e for e in items if e["workflow_id"] == "uninstall"]
    eq([e["status"] for e in queued], ["queued"], "uninstall status")
    out = cfy("executions", "cancel", ex_id)
    contains(out, "Cancelling execution %s" % ex_id)
    out = cfy("executions", "list", "-d", "cli-slow-dep")
    # (cfy's "NOTE: Executions currently in a canceling..." never shows here: `executions list` asks for
    # _include=MINIMAL_EXECUTION_COLUMNS, without `status`, and tests execution.status)
    contains(out, "cancelling", "a cancel waits for the running operation")
    eq(poll_status(ex_id, ENDED)["status"], "cancelled", "status after cancel")
    eq(poll_status(queued[0]["id"], ENDED)["status"], "completed", "the queued uninstall ran when the install ended")
    eq(cfy_json("node-instances", "list", "-d", "cli-slow-dep")[0]["state"], "deleted", "instance state")
    out = cfy("events", "list", ex_id)
    contains(out, "Resuming 'install' workflow execution")


c.run("executions resume; start uninstall --queue; cancel (cancelling, then cancelled); queued one runs",
      slow_resume_queue_cancel)


def slow_delete():
    out = cfy("deployments", "delete", "cli-slow-dep")
    contains(out, "Deployment deleted")


c.run("deployments delete cli-slow-dep after its uninstall", slow_delete)


def uninstall():
    out = cfy("executions", "start", "uninstall", "-d", "cli-dep", "-p", "ignore_failure=true")
    in_order(out, "Executing workflow `uninstall` on deployment `cli-dep`",
             "Task succeeded 'cloudify.interfaces.lifecycle.stop on server_",
             "Task succeeded 'cloudify.interfaces.lifecycle.delete on server_",
             "'uninstall' workflow execution succeeded",
             "Finished executing workflow uninstall on deployment cli-dep")
    items = cfy_json("node-instances", "list", "-d", "cli-dep")
    eq(sorted(i["state"] for i in items), ["deleted", "deleted"], "states after uninstall")
    eq(installation_status("cli-dep"), "inactive", "installation_status")


c.run("executions start uninstall -d cli-dep -p ignore_failure=true follows it to the end", uninstall)

# --- deleting ----------------------------------------------------------------------


def blueprint_delete_in_use():
    out = cfy("blueprints", "delete", "cli-hello", rc=None)
    assert "deleted" not in out.lower() or "in use" in out.lower() or "cannot" in out.lower(), out
    contains(cfy("blueprints", "list"), "cli-hello")


c.run("blueprints delete of a blueprint in use is refused", blueprint_delete_in_use)


def deployments_delete():
    out = cfy("deployments", "delete", "cli-dep")
    contains(out, "Deployment deleted")
    out = cfy("deployments", "list")
    assert "cli-dep" not in out, out


c.run("deployments delete cli-dep", deployments_delete)


def blueprints_delete():
    for b in ("cli-hello", "cli-archive", "cli-slow"):
        out = cfy("blueprints", "delete", b)
        contains(out, "deleted")
    out = cfy("blueprints", "list")
    assert "cli-hello" not in out and "cli-archive" not in out and "cli-slow" not in out, out


c.run("blueprints delete cli-hello, cli-archive, cli-slow", blueprints_delete)

# --- secrets --------------------------------------------------------------------------


def secrets_flow():
    out = cfy("secrets", "create", "cli_secret", "-s", "s3cr3t-value")
    contains(out, "cli_secret")
    got = cfy_json("secrets", "get", "cli_secret")
    eq(got["key"], "cli_secret", "key")
    eq(got["value"], "s3cr3t-value", "value")
    out = cfy("secrets", "get", "cli_secret")
    contains(out, "s3cr3t-value")
    out = cfy("secrets", "list")
    contains(out, "cli_secret")
    assert "s3cr3t-value" not in out, "secrets list shows a value:\n" + out
    out = cfy("secrets", "create", "cli_secret", "-s", "other", rc=None)
    assert "already exists" in out or "409" in out, out
    cfy("secrets", "create", "cli_secret", "-s", "updated", "-u")
    eq(cfy_json("secrets", "get", "cli_secret")["value"], "updated", "value after -u")
    out = cfy("secrets", "delete", "cli_secret")
    contains(out, "Secret removed")
    out = cfy("secrets", "list")
    assert "cli_secret" not in out, out
    out = cfy("secrets", "get", "cli_secret", rc=None)
    contains(out, "was not found")


c.run("secrets create/get/list/create -u/delete", secrets_flow)

# --- users and tenants ------------------------------------------------------------------


def users_tenants():
    out = cfy("users", "create", "cli-bob", "-p", "bob-password-1", "-r", "default")
    contains(out, "cli-bob")
    out = cfy("tenants", "create", "cli-tenant")
    contains(out, "cli-tenant")
    out = cfy("tenants", "list")
    contains(out, "cli-tenant")
    contains(out, "default_tenant")
    out = cfy("tenants", "add-user", "cli-bob", "-t", "cli-tenant", "-r", "user")
    contains(out, "cli-bob")
    out = cfy("tenants", "get", "cli-tenant")
    contains(out, "cli-tenant")
    out = cfy("users", "get", "cli-bob")
    contains(out, "cli-bob")
    contains(out, "cli-tenant")
    out = cfy("users", "list")
    contains(out, "cli-bob")
    contains(out, "admin")
    out = cfy("tenants", "remove-user", "cli-bob", "-t", "cli-tenant")
    contains(out, "cli-bob")
    out = cfy("tenants", "delete", "cli-tenant")
    contains(out, "cli-tenant")
    out = cfy("tenants", "list")
    assert "cli-tenant" not in out, out
    out = cfy("users", "delete", "cli-bob")
    contains(out, "cli-bob")
    assert "cli-bob" not in cfy("users", "list")


c.run("users create, tenants create/list/add-user/get/remove-user/delete, users delete", users_tenants)


def wrong_password():
    global env
    saved = env
    env = dict(env, CFY_WORKDIR=tempfile.mkdtemp(prefix="stratus-cfy-bad-"))
    try:
        out = cfy("profiles", "use", cfg.host, "--rest-port", str(cfg.port), "-u", "admin", "-p", "wrong",
                  "-t", "default_tenant", rc=None)
        assert "401" in out or "nauthorized" in out or "credentials" in out.lower(), out
    finally:
        env = saved


c.run("profiles use with a wrong password is refused (401)", wrong_password)

shutil.rmtree(work, ignore_errors=True)
c.finish()
