"""Reference (cloudify-common 7.0.5 dsl_parser) helpers shared by tools/oracle/regen and bench/reference-timing.

Must run with the oracle venv's python (${STRATUS_ORACLE_VENV:-~/.cache/stratus-oracle/venv}/bin/python).
The import resolver is set up exactly as ../shared/oracle/reference-plan does it: URL-path rules for
http(s)://www.getcloudify.org and http(s)://nexus.onap.org onto ../shared/reference/typefiles, and
plugin:NAME?version=SPEC onto typefiles/plugins/NAME/VERSION/plugin.yaml (newest satisfying version).

CLI:  python refparse.py stage FILE [INPUTS_JSON_FILE]
      prints {"phase": "ok"} or {"phase": "parse"|"plan", "type", "code", "message"}: which reference step
      (parse_from_path or prepare_deployment_plan) rejected the blueprint.
"""
import json
import os
import re
import sys
from urllib.parse import urlparse, parse_qs

from dsl_parser.parser import parse_from_path
from dsl_parser import tasks
from dsl_parser.import_resolver.default_import_resolver import DefaultImportResolver

HERE = os.path.dirname(os.path.abspath(__file__))
TYPEFILES = os.environ.get(
    "STRATUS_TYPEFILES",
    os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "reference", "typefiles")))


def vkey(v):
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\-+]", v))


def satisfies(v, spec):
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = re.match(r"(>=|<=|==|!=|>|<)?\s*(.+)", part)
        op, want, have = m.group(1) or "==", vkey(m.group(2)), vkey(v)
        if not {"==": have == want, "!=": have != want, ">=": have >= want, "<=": have <= want,
                ">": have > want, "<": have < want}[op]:
            return False
    return True


class Resolver(DefaultImportResolver):
    root = TYPEFILES

    def fetch_import(self, import_url, **kw):
        if import_url.startswith("plugin:"):
            u = urlparse(import_url)
            spec = parse_qs(u.query).get("version", [""])[0]
            d = os.path.join(self.root, "plugins", u.path)
            versions = sorted((v for v in os.listdir(d) if not spec or satisfies(v, spec)),
                              key=vkey) if os.path.isdir(d) else []
            if not versions:
                raise Exception(f"no plugin {u.path} matching {spec!r}")
            with open(os.path.join(d, versions[-1], "plugin.yaml")) as f:
                return f.read()
        return super().fetch_import(import_url, **kw)


def resolver(root=TYPEFILES):
    rules = [{f"{s}://{h}": f"file://{root}/{h}"}
             for h in ("www.getcloudify.org", "nexus.onap.org") for s in ("http", "https")]
    r = Resolver(rules=rules)
    r.root = root
    return r


def parse(path):
    return parse_from_path(path, resolver=resolver())


def plan(parsed, inputs=None):
    return tasks.prepare_deployment_plan(parsed, inputs=inputs or {})


def err(e):
    return {"type": type(e).__name__, "code": getattr(e, "err_code", None), "message": str(e)}


def stage(path, inputs=None):
    try:
        parsed = parse(path)
    except Exception as e:
        return dict(phase="parse", **err(e))
    try:
        plan(parsed, inputs)
    except Exception as e:
        return dict(phase="plan", **err(e))
    return {"phase": "ok"}


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "stage":
        inputs = None
        if len(sys.argv) > 3:
            with open(sys.argv[3]) as f:
                inputs = json.load(f)
        print(json.dumps(stage(sys.argv[2], inputs)))
    else:
        sys.exit(__doc__)
