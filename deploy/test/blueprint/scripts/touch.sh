#!/bin/bash
# stratus.test.touch, run by execute_operation: records its input.
set -euo pipefail
ctx instance runtime-properties note "$note"
