# -*- coding: utf-8 -*-
"""Shared helpers for the client compatibility scripts (Python 2.7 and 3).

Every script takes the server and paths from the environment (set by
crates/stratus/tests/clients.rs), or from the command line:

    script.py [URL [ADMIN_PASSWORD]]

  STRATUS_URL             http://127.0.0.1:PORT (no /api suffix)
  STRATUS_ADMIN_PASSWORD  the admin user's password
  STRATUS_REPO            the repository root (default: two levels above this file)
  STRATUS_CORPUS          the ONAP corpus dir (default: <repo>/../shared/corpus/onap-frankfurt)

A check that fails is reported and the script goes on (later checks may
depend on it and fail too); the exit status is 1 if any check failed.
"""
from __future__ import print_function

import io
import os
import sys
import tarfile
import traceback
import zipfile


class Config(object):
    def __init__(self):
        args = sys.argv[1:]
        self.url = (args[0] if args else os.environ.get("STRATUS_URL", "")).rstrip("/")
        self.password = args[1] if len(args) > 1 else os.environ.get("STRATUS_ADMIN_PASSWORD", "")
        if not self.url or not self.password:
            print("usage: %s URL ADMIN_PASSWORD (or STRATUS_URL, STRATUS_ADMIN_PASSWORD)" % sys.argv[0])
            sys.exit(2)
        here = os.path.dirname(os.path.abspath(__file__))
        self.repo = os.environ.get("STRATUS_REPO") or os.path.dirname(os.path.dirname(here))
        self.blueprints = os.path.join(self.repo, "tests", "clients", "blueprints")
        self.corpus = os.environ.get("STRATUS_CORPUS") or os.path.join(
            os.path.dirname(self.repo), "shared", "corpus", "onap-frankfurt")
        rest = self.url.split("://", 1)[-1]
        self.host, _, port = rest.partition(":")
        self.port = int(port.split("/")[0]) if port else 80

    def blueprint(self, name):
        return os.path.join(self.blueprints, name, "blueprint.yaml")


class Checks(object):
    """Named checks that keep going after a failure."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = []
        print("== %s" % title)
        sys.stdout.flush()

    def run(self, label, fn, *args, **kwargs):
        """Runs fn; an exception (AssertionError or any other) fails the check.
        Returns fn's result, or None when it failed."""
        try:
            result = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a check fails on anything
            self.failed.append(label)
            print("FAIL  %s\n      %s: %s" % (label, type(e).__name__, _short(e)))
            tb = traceback.format_exc().strip().splitlines()
            for line in tb[-8:]:
                print("      | " + line)
            sys.stdout.flush()
            return None
        self.passed += 1
        print("ok    %s" % label)
        sys.stdout.flush()
        return result

    def finish(self):
        print("-- %s: %d passed, %d failed" % (self.title, self.passed, len(self.failed)))
        for label in self.failed:
            print("   failed: %s" % label)
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def _short(e):
    s = str(e)
    return s if len(s) < 2000 else s[:2000] + "…"


def eq(actual, expected, what=""):
    assert actual == expected, "%s: expected %r, got %r" % (what or "value", expected, actual)


def contains(haystack, needle, what=""):
    assert needle in haystack, "%s: %r not found in %r" % (what or "output", needle, haystack)


def zip_dir(src_dir, top, files=None):
    """A zip (bytes) holding src_dir's files under the top-level directory `top`.
    files, if given, maps archive name (relative to top) -> source path."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if files is None:
            files = {}
            for root, _dirs, names in os.walk(src_dir):
                for n in names:
                    p = os.path.join(root, n)
                    files[os.path.relpath(p, src_dir)] = p
        for arc, path in sorted(files.items()):
            z.write(path, top + "/" + arc)
    return buf.getvalue()


def tar_gz_dir(src_dir, top, path):
    """Writes a .tar.gz of src_dir under the top-level directory `top` to path."""
    with tarfile.open(path, "w:gz") as t:
        t.add(src_dir, arcname=top)
    return path
