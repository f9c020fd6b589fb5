"""Serves cloudify-common's own HTTPCtxProxy over a stub ctx holding the same data as
tests/common/mod.rs's node_context. Each line read from stdin starts a fresh proxy (bottle's
route is global, so one at a time) and prints its socket URL; EOF stops."""
import sys

from cloudify.proxy.client import ScriptException
from cloudify.proxy.server import HTTPCtxProxy


class NodeContext(object):
    def __init__(self):
        self.id = 'web'
        self.name = 'web'
        self.type = 'cloudify.nodes.Root'
        self.type_hierarchy = ['cloudify.nodes.Root']
        self.number_of_instances = 1
        self.properties = {'port': 8080, 'nested': {'list': [{'x': 1}, {'x': 2}]}, 'name': "it's"}


class NodeInstanceContext(object):
    def __init__(self):
        self.id = 'web_a1b2c3'
        self.runtime_properties = {'existing': 'yes'}
        self.host_ip = '10.0.0.7'
        self.index = 0


class Logger(object):
    def _log(self, msg, *args, **kwargs):
        sys.stderr.write('LOG %s\n' % (msg % args if args else msg))
    debug = info = warning = error = critical = _log


class OperationContext(object):
    name = 'cloudify.interfaces.lifecycle.create'
    retry_number = 0
    max_retries = 3


class DeploymentContext(object):
    id = 'dep1'


class BlueprintContext(object):
    id = 'bp1'


class Ctx(object):
    """The attributes script_runner's process_execution gives ctx, with its result rules."""

    def __init__(self):
        self.node = NodeContext()
        self.instance = NodeInstanceContext()
        self.logger = Logger()
        self.operation = OperationContext()
        self.deployment = DeploymentContext()
        self.blueprint = BlueprintContext()
        self.execution_id = 'exec-1'
        self.workflow_id = 'install'
        self._return_value = None
        process_execution(self)


def process_execution(ctx):
    """script_runner.tasks.process_execution's result functions, same names and rules."""

    def abort_operation(message=None):
        if ctx._return_value is not None:
            ctx._return_value = RuntimeError('ctx may only abort or return once')
            raise ctx._return_value
        ctx._return_value = ScriptException(message)
        return ctx._return_value

    def retry_operation(message=None, retry_after=None):
        if ctx._return_value is not None:
            ctx._return_value = RuntimeError('ctx may only abort or return once')
            raise ctx._return_value
        ctx._return_value = ScriptException(message, retry=True)
        return ctx._return_value

    def returns(value):
        if ctx._return_value is not None:
            ctx._return_value = RuntimeError('ctx may only abort or return once')
            raise ctx._return_value
        ctx._return_value = value

    ctx.abort_operation = abort_operation
    ctx.retry_operation = retry_operation
    ctx.returns = returns


proxy = None
for line in sys.stdin:
    if proxy is not None:
        proxy.close()
    proxy = HTTPCtxProxy(Ctx())
    sys.stdout.write(proxy.socket_url + '\n')
    sys.stdout.flush()
if proxy is not None:
    proxy.close()
