"""Recording operation for tools/oracle/workflow-order.py: logs (task key, start, end) and sleeps a
random few milliseconds so that independent operations interleave differently from run to run."""
import json
import os
import random
import time

from cloudify import ctx
from cloudify.decorators import operation



@operation
def record(**kwargs):
    started = time.monotonic()
    time.sleep(random.uniform(0, 0.004))
    ended = time.monotonic()
    if ctx.type == 'relationship-instance':
        rel = ctx._context['related']
        owner = ctx._context['node_id']
        side = 'source' if rel['is_target'] else 'target'
        key = f"{owner} {ctx.operation.name} {side}:{rel['node_id']}"
    else:
        key = f"{ctx.instance.id} {ctx.operation.name}"
    with open(os.environ['WORKFLOW_ORDER_LOG'], 'a') as f:
        f.write(json.dumps([key, started, ended]) + '\n')
