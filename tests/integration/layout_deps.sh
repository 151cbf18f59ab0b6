#!/usr/bin/env bash
# The source layout (README, Layout): scripts/check-layout.sh passes on the
# tree, and rejects each kind of violation planted in a copy of it: a back
# edge, an unqualified include, the host library reaching into the consumer,
# a private header used from outside, a file outside any layer directory.
source "$(dirname "$0")/../lib.sh"
CHECK=$ROOT/scripts/check-layout.sh
require_file "$CHECK"

out=$("$CHECK" "$ROOT" 2>&1) || { printf '%s\n' "$out"; fail "the tree violates its layout"; }
check "the tree passes" grep -qx "check-layout: ok" <<<"$out"

fresh() { # a copy of the sources only
	rm -rf "$T/tree"; mkdir -p "$T/tree/tests"
	cp -r "$ROOT/profiler" "$ROOT/symbolizer" "$T/tree/"
	for d in unit tools fuzz workloads; do cp -r "$ROOT/tests/$d" "$T/tree/tests/"; done
}
rejects() { # description expected-message: the checker fails on $T/tree naming it
	local what=$1 msg=$2 rc=0
	"$CHECK" "$T/tree" > "$T/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$T/out"; fail "$what: checker exit $rc, want 1"; }
	check "$what" grep -qF -- "$msg" "$T/out"
}
plant() { # file line: insert an include after the file's first line
	sed -i "1a $2" "$T/tree/$1"
}

fresh
out=$("$CHECK" "$T/tree" 2>&1) || { printf '%s\n' "$out"; fail "the copy does not pass"; }

plant profiler/base/log.c '#include "pipeline/consumer.h"'
rejects "back edge base -> pipeline" 'profiler/base/log.c: #include "pipeline/consumer.h": base/ may not depend on pipeline/'

fresh
plant profiler/aggregate/aggregate.c '#include "sinks/links.h"'
rejects "back edge aggregate -> sinks" 'aggregate/ may not depend on sinks/'

fresh
plant profiler/capture/sighandler.c '#include "unwind/unwind.h"'
rejects "capture reaching into the consumer" 'capture/sighandler.c: #include "unwind/unwind.h": capture/ may not depend on unwind/'

fresh
plant profiler/preload/preload.c '#include "model/profile.h"'
rejects "preload reaching into the consumer" 'preload/ may not depend on model/'

fresh
plant profiler/pipeline/consumer.c '#include "capture/threads.h"'
rejects "consumer including the host's thread registry" 'pipeline/ may not depend on capture/'

fresh
plant profiler/unwind/unwind.c '#include "log.h"'
rejects "unqualified include" 'profiler/unwind/unwind.c: #include "log.h": not directory-qualified'

fresh
plant tests/unit/test_stacks.c '#include "stacks.h"'
rejects "unqualified include in a unit test" 'tests/unit/test_stacks.c: #include "stacks.h": not directory-qualified'

fresh
plant profiler/aggregate/aggregate.c '#include "symbolizer/sym_internal.h"'
rejects "private header from outside" 'private to symbolizer/'

fresh
plant profiler/render/top.c '#include "base/nonexistent.h"'
rejects "a header that does not exist" 'no such header'

fresh
cp "$T/tree/profiler/base/log.c" "$T/tree/profiler/stray.c"
rejects "a file outside any layer" 'profiler/stray.c: not in a layer directory'
