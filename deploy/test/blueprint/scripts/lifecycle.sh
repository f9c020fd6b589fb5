#!/bin/bash
# One script for every lifecycle operation: logs, sleeps $pause, records what it saw.
set -euo pipefail
op=$(ctx operation name)
step=${op##*.}
id=$(ctx instance id)
colour=$(ctx node properties colour)
ctx logger info "stratus-test: $step on $id (colour $colour)"
echo "stratus-test stdout: $step"
sleep "${pause:-0}"
ctx instance runtime-properties "$step" @'{"done": true}'
ctx instance runtime-properties colour_seen "$colour"
ctx instance runtime-properties endpoint "http://$id:8080/$greeting"
