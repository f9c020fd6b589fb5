#!/usr/bin/env python3
"""Reference partial order of install/uninstall operations (cloudify-common 7.0.5 local workflows).

For each crates/stratus-engine/tests/data/NAME.yaml (or the files given) this writes NAME.expected.json:
  deployment   the nodes and node instances the reference deployed (its plan: ids, operations,
               relationships), which the Rust test feeds to stratus-engine so instance ids match;
  install / uninstall, each:
    tasks      every operation task and set-state task of the workflow's graph, as keys:
                 "INSTANCE OPERATION"                       a node operation
                 "INSTANCE OPERATION source:OTHER"          a relationship source operation run for
                 "INSTANCE OPERATION target:OTHER"          INSTANCE, related to instance OTHER
                 "INSTANCE set_state:STATE"                 a node-instance state change
    before     every pair [A, B] with A's end a (transitive) prerequisite of B's start in the reference's
               TaskDependencyGraph (through subgraphs, events and NOP tasks), sorted;
    observed   how many operations actually ran, over all runs.
  scenarios    when NAME.workflows.json exists (a list of {"name", "workflow", "parameters"}): for each, the
               same `tasks` / `before` for that workflow run right after an install (all instances
               `started`). A parameter string "@node:NODE" stands for NODE's first instance id. A workflow
               that runs several graphs one after the other (heal, restart) is recorded as one order with
               every task of a graph before every task of the next.
The graph is captured by wrapping TaskDependencyGraph.execute; then the workflow really runs (a recording
plugin, tools/oracle/workflow_order/recorder.py, sleeps 0-4 ms per operation, 8 threads) RUNS times, and
every observed run is checked against the captured order (a violated pair aborts the script).

Usage: /work/venv-engine/bin/python tools/oracle/workflow-order.py [NAME.yaml ...]
       (a Python 3.11 venv with cloudify-common==7.0.5, networkx and pyyaml; RUNS env var, default 3)
"""
import glob
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'workflow_order'))
sys.path.insert(0, HERE)

import refparse  # noqa: E402  (import resolver onto ../shared/reference/typefiles)
from cloudify.workflows import local  # noqa: E402
from cloudify.workflows import tasks_graph  # noqa: E402

DATA = os.path.normpath(os.path.join(HERE, '..', '..', 'crates', 'stratus-engine', 'tests', 'data'))
CAPTURED = []
# Modules named by the bundled types' agent/monitoring operations, absent in a local environment.
IGNORED_MODULES = ['cloudify_agent.installer.operations', 'cloudify_agent.operations',
                   'diamond_agent.tasks', 'worker_installer.tasks', 'plugin_installer.tasks',
                   'windows_agent_installer.tasks', 'windows_plugin_installer.tasks',
                   'script_runner.tasks', 'cloudify.plugins.workflows']
_execute = tasks_graph.TaskDependencyGraph.execute


def _capture(self):
    CAPTURED.append(describe(self))
    return _execute(self)


tasks_graph.TaskDependencyGraph.execute = _capture


def task_key(task):
    if task.is_subgraph:
        return None
    if type(task).__name__ == 'SetNodeInstanceStateTask':
        return f"{task.kwargs['node_instance_id']} set_state:{task.kwargs['state']}"
    try:
        context = task.cloudify_context or {}
    except (AttributeError, NotImplementedError):
        context = {}
    if not context or 'operation' not in context:
        return None
    key = f"{context['node_id']} {context['operation']['name']}"
    related = context.get('related')
    if related:
        side = 'source' if related['is_target'] else 'target'
        key += f" {side}:{related['node_id']}"
    return key


def describe(graph):
    """Nodes: ('s', id) start of a task, ('e', id) end of a task; edges 'must precede'."""
    preds = {}
    keys = {}
    for task in graph.tasks:
        tid = task.id
        preds.setdefault(('s', tid), set())
        preds.setdefault(('e', tid), set()).add(('s', tid))
        key = task_key(task)
        if key is not None:
            if key in keys.values():
                raise SystemExit(f'duplicate task key {key}')
            keys[tid] = key
        if task.is_subgraph:
            for member in task.tasks:
                preds[('e', tid)].add(('e', member))
    for task in graph.tasks:
        container = task.containing_subgraph
        for dep in graph._dependencies.get(task, set()):
            dep_id = dep.id if hasattr(dep, 'id') else dep
            if container is not None and dep_id == container.id:
                preds[('s', task.id)].add(('s', dep_id))
            else:
                preds[('s', task.id)].add(('e', dep_id))
    return preds, keys


def closure(preds, keys):
    memo = {}

    def ancestors(node):
        # iterative DFS, memoised: the set of keyed task ids whose end precedes `node`
        if node in memo:
            return memo[node]
        stack = [(node, iter(preds.get(node, ())))]
        acc = {node: set()}
        while stack:
            current, it = stack[-1]
            advanced = False
            for p in it:
                if p in memo:
                    acc[current] |= memo[p]
                    continue
                if p in acc:
                    raise SystemExit('cycle in reference graph')
                acc[p] = set()
                stack.append((p, iter(preds.get(p, ()))))
                advanced = True
                break
            if advanced:
                continue
            stack.pop()
            result = acc.pop(current)
            if current[0] == 'e' and current[1] in keys:
                result = result | {current[1]}
            memo[current] = frozenset(result)
            if stack:
                acc[stack[-1][0]] |= memo[current]
        return memo[node]

    pairs = set()
    for tid, key in keys.items():
        for before in ancestors(('s', tid)):
            pairs.add((keys[before], key))
    return sorted(pairs)


def check_observed(log_path, before):
    with open(log_path) as f:
        rows = [json.loads(line) for line in f]
    times = {key: (start, end) for key, start, end in rows}
    for a, b in before:
        if a in times and b in times and not times[a][1] <= times[b][0]:
            raise SystemExit(f'observed run violates {a} < {b}')
    return len(rows)


def run(blueprint):
    runs = int(os.environ.get('RUNS', '3'))
    result = {}
    env = local.init_env(blueprint, name='wo', resolver=refparse.resolver(),
                         ignored_modules=IGNORED_MODULES)
    result['deployment'] = {
        'nodes': [strip_node(n) for n in env.storage.get_nodes()],
        'node_instances': [strip_instance(i) for i in env.storage.get_node_instances()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, 'ops.log')
        os.environ['WORKFLOW_ORDER_LOG'] = log
        for _ in range(runs):
            for workflow in ('install', 'uninstall'):
                del CAPTURED[:]
                open(log, 'w').close()
                env.execute(workflow, task_retries=0, task_thread_pool_size=8)
                if len(CAPTURED) != 1:
                    raise SystemExit(f'{workflow}: expected one graph, got {len(CAPTURED)}')
                preds, keys = CAPTURED[0]
                before = [list(p) for p in closure(preds, keys)]
                entry = result.setdefault(workflow, {'tasks': sorted(keys.values()), 'before': before,
                                                     'observed': 0})
                if entry['before'] != before or entry['tasks'] != sorted(keys.values()):
                    raise SystemExit(f'{workflow}: graph differs between runs')
                entry['observed'] += check_observed(log, before)
        scenarios_path = blueprint[:-len('.yaml')] + '.workflows.json'
        if os.path.exists(scenarios_path):
            with open(scenarios_path) as f:
                scenarios = json.load(f)
            result['scenarios'] = {}
            first = {}
            for instance in result['deployment']['node_instances']:
                first.setdefault(instance['node_id'], instance['id'])
            for scenario in scenarios:
                parameters = {k: (first[v[len('@node:'):]] if isinstance(v, str) and v.startswith('@node:') else v)
                              for k, v in scenario.get('parameters', {}).items()}
                print(f"scenario {scenario['name']}", file=sys.stderr)
                env.execute('install', task_retries=0, task_thread_pool_size=8)
                del CAPTURED[:]
                env.execute(scenario['workflow'], parameters=parameters, allow_custom_parameters=True,
                            task_retries=0, task_thread_pool_size=8)
                graphs = list(CAPTURED)
                env.execute('uninstall', task_retries=0, task_thread_pool_size=8)
                result['scenarios'][scenario['name']] = merged(graphs)
    return result


def merged(graphs):
    """One order for graphs executed one after the other."""
    tasks, before, previous = [], set(), []
    for preds, keys in graphs:
        current = sorted(keys.values())
        before |= {tuple(p) for p in closure(preds, keys)}
        before |= {(a, b) for a in previous for b in current}
        tasks += current
        previous += current
    if len(tasks) != len(set(tasks)):
        raise SystemExit('duplicate task keys across graphs')
    return {'tasks': sorted(tasks), 'before': [list(p) for p in sorted(before)], 'graphs': len(graphs)}


def strip_node(node):
    node = dict(node)
    keep = ('id', 'type', 'type_hierarchy', 'host_id', 'operations', 'relationships', 'plugins',
            'properties')
    node = {k: node.get(k) for k in keep}
    node['properties'] = {k: v for k, v in (node['properties'] or {}).items() if k == 'agent_config'}
    return node


def strip_instance(instance):
    instance = dict(instance)
    keep = ('id', 'node_id', 'host_id', 'relationships', 'state', 'index', 'scaling_groups')
    return {k: instance.get(k) for k in keep if k in instance}


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(DATA, '*.yaml')))
    for path in files:
        result = run(os.path.abspath(path))
        out = path[:-len('.yaml')] + '.expected.json'
        with open(out, 'w') as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write('\n')
        print(f"{os.path.basename(out)}: install {len(result['install']['tasks'])} tasks "
              f"{len(result['install']['before'])} pairs, uninstall {len(result['uninstall']['tasks'])} "
              f"tasks {len(result['uninstall']['before'])} pairs")


if __name__ == '__main__':
    main()
