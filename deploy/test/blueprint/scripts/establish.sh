#!/bin/bash
# connected_to establish, run on the source (web): records the target's endpoint.
set -euo pipefail
target=$(ctx target instance runtime-properties endpoint)
ctx source instance runtime-properties upstream "$target"
ctx logger info "stratus-test: web connected to $target"
