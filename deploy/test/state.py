#!/usr/bin/env python3
"""The manager's whole state through its REST API, as canonical JSON (deploy/test-image).

    state.py dump BASE_URL PASSWORD OUT.json   every list, secret value, output and archive digest
    state.py check OUT.json                    the install's effects are all there (exit 1 if not)

Two dumps of the same state are byte for byte equal; the snapshot executions a snapshot
create/restore adds are left out so a restored instance compares equal to its source.
"""
import base64
import hashlib
import json
import ssl
import sys
import urllib.request

SNAPSHOT_WORKFLOWS = {"create_snapshot", "restore_snapshot"}


class Api:
    def __init__(self, base, password, cafile=None):
        self.base = base.rstrip("/")
        token = base64.b64encode(f"admin:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Tenant": "default_tenant"}
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None

    def raw(self, path):
        request = urllib.request.Request(self.base + "/api/v3.1" + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
            return response.read()

    def get(self, path):
        return json.loads(self.raw(path))

    def items(self, resource, query=""):
        out, offset = [], 0
        while True:
            sep = "&" if "?" in resource or query else "?"
            page = self.get(f"{resource}{query}{sep}_size=500&_offset={offset}")
            out.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["metadata"]["pagination"]["total"]:
                return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def dump(api):
    state = {}
    for resource in ["blueprints", "deployments", "nodes", "node-instances", "plugins", "tenants"]:
        state[resource] = api.items("/" + resource)
    state["executions"] = [
        e for e in api.items("/executions", "?_include_system_workflows=true")
        if e.get("workflow_id") not in SNAPSHOT_WORKFLOWS
    ]
    snapshot_executions = {
        e["id"] for e in api.items("/executions", "?_include_system_workflows=true")
        if e.get("workflow_id") in SNAPSHOT_WORKFLOWS
    }
    state["events"] = [
        e for e in api.items("/events", "?_sort=@timestamp")
        if e.get("execution_id") not in snapshot_executions
    ]
    state["secrets"] = api.items("/secrets")
    state["secret_values"] = {s["key"]: api.get(f"/secrets/{s['key']}")["value"] for s in state["secrets"]}
    state["outputs"] = {d["id"]: api.get(f"/deployments/{d['id']}/outputs") for d in state["deployments"]}
    state["blueprint_archives"] = {b["id"]: sha256(api.raw(f"/blueprints/{b['id']}/archive")) for b in state["blueprints"]}
    state["plugin_archives"] = {p["id"]: sha256(api.raw(f"/plugins/{p['id']}/archive")) for p in state["plugins"]}
    return state


def fail(message):
    print(f"state.py: {message}", file=sys.stderr)
    sys.exit(1)


def check(state):
    """What the install in deploy/test-image must have left behind."""
    def need(condition, message):
        if not condition:
            fail(message)

    need([b["id"] for b in state["blueprints"]] == ["stratus-test"], f"blueprints: {[b['id'] for b in state['blueprints']]}")
    need([d["id"] for d in state["deployments"]] == ["stratus-test"], "deployment stratus-test missing")
    instances = [i for i in state["node-instances"] if i["deployment_id"] == "stratus-test"]
    need(len(instances) == 4, f"expected 4 node instances, got {len(instances)}")
    for instance in instances:
        props = instance.get("runtime_properties") or {}
        need(instance["state"] == "started", f"{instance['id']} is {instance['state']}, not started")
        for step in ["create", "configure", "start"]:
            need(props.get(step) == {"done": True}, f"{instance['id']}: runtime property {step} = {props.get(step)!r}")
        need(props.get("endpoint") == f"http://{instance['id']}:8080/hello", f"{instance['id']}: endpoint {props.get('endpoint')!r}")
        if instance["node_id"] == "web":
            need(props.get("upstream", "").startswith("http://app_"), f"{instance['id']}: upstream {props.get('upstream')!r}")
        if instance["node_id"] == "database":
            need(props.get("note") == "touched by execute_operation", f"database note {props.get('note')!r}")
            need(props.get("colour_seen") == "red", "database colour_seen")
    workflows = sorted((e["workflow_id"], e["status"]) for e in state["executions"] if e.get("deployment_id") == "stratus-test")
    need(("install", "terminated") in workflows and ("execute_operation", "terminated") in workflows,
         f"executions: {workflows}")
    need(("create_deployment_environment", "terminated") in workflows, f"executions: {workflows}")
    messages = [m.get("text", "") if isinstance(m, dict) else str(m or "") for m in (e.get("message") for e in state["events"])]
    need(any("stratus-test: create on database_" in m for m in messages), "no script log event for database create")
    need(any("stratus-test stdout: start" in m for m in messages), "no script stdout event")
    need(any(e.get("event_type") == "workflow_succeeded" for e in state["events"]), "no workflow_succeeded event")
    need(state["secret_values"].get("db_password") == "correct-horse!", "secret db_password not readable")
    need(any(s["key"] == "db_password" and "value" not in s for s in state["secrets"]), "secret list shows values")
    need([p["package_name"] for p in state["plugins"]] == ["stratus-test-plugin"], "plugin stratus-test-plugin missing")
    outputs = state["outputs"]["stratus-test"]["outputs"]
    need(outputs.get("database_colour") == "red" and outputs.get("app_endpoint", "").startswith("http://app_"),
         f"outputs: {outputs}")


def main(argv):
    if len(argv) >= 4 and argv[0] == "dump":
        cafile = argv[3] if len(argv) > 4 else None
        state = dump(Api(argv[1], argv[2], cafile))
        with open(argv[-1], "w") as out:
            json.dump(state, out, sort_keys=True, indent=1)
            out.write("\n")
    elif len(argv) == 2 and argv[0] == "check":
        with open(argv[1]) as f:
            check(json.load(f))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
