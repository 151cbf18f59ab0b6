#!/usr/bin/env python3
"""Per-span sums of a pprof file as `go tool pprof -raw` reads it: an
independent reader (Go's) for the span tests, not spanprof's own.

  pprof_raw_spans.py sums FILE      JSON: {"types": [...], "spans": {span_id:
                                    {"cpu_ns", "samples", "trace_ids", "names"}},
                                    "unlabelled": {"cpu_ns", "samples"}}
  pprof_raw_spans.py pairs FILE     one line per labelled sample:
                                    span_id trace_id span_name(or -) count
"""
import json
import re
import subprocess
import sys

LABEL_RE = re.compile(r'(\w+):\[([^\]]*)\]')


def raw_samples(path):
    """Yield (values, labels) per sample of `go tool pprof -raw`."""
    out = subprocess.run(['go', 'tool', 'pprof', '-raw', path], check=True,
                         capture_output=True, text=True).stdout
    lines = out.splitlines()
    try:
        start = lines.index('Samples:')
    except ValueError:
        raise SystemExit('%s: go tool pprof -raw printed no Samples section' % path)
    types = lines[start + 1].split()
    values, labels = None, {}
    for line in lines[start + 2:]:
        if not line.startswith(' '):  # "Locations" ends the section
            break
        m = re.match(r'^\s+([-\d ]+):', line)
        if m:
            if values is not None:
                yield types, values, labels
            values, labels = [int(v) for v in m.group(1).split()], {}
        else:
            labels.update(LABEL_RE.findall(line))
    if values is not None:
        yield types, values, labels


def sums(path):
    spans, unl, types = {}, {'cpu_ns': 0, 'samples': 0}, []
    for types, values, labels in raw_samples(path):
        cpu = values[types.index('cpu/nanoseconds')]
        cnt = values[types.index('samples/count')] if 'samples/count' in types else 1
        sid = labels.get('span_id')
        if not sid:
            unl['cpu_ns'] += cpu
            unl['samples'] += cnt
            continue
        s = spans.setdefault(sid, {'cpu_ns': 0, 'samples': 0, 'trace_ids': [], 'names': []})
        s['cpu_ns'] += cpu
        s['samples'] += cnt
        if labels.get('trace_id') and labels['trace_id'] not in s['trace_ids']:
            s['trace_ids'].append(labels['trace_id'])
        if labels.get('span_name') and labels['span_name'] not in s['names']:
            s['names'].append(labels['span_name'])
    return {'types': types, 'spans': spans, 'unlabelled': unl}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('sums', 'pairs'):
        sys.stderr.write(__doc__)
        return 2
    if sys.argv[1] == 'sums':
        json.dump(sums(sys.argv[2]), sys.stdout)
        print()
    else:
        for types, values, labels in raw_samples(sys.argv[2]):
            if 'span_id' in labels:
                print(labels['span_id'], labels.get('trace_id', '-'),
                      labels.get('span_name', '-'), values[0])
    return 0


if __name__ == '__main__':
    sys.exit(main())
