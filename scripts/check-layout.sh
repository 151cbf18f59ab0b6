#!/usr/bin/env bash
# Layout check: every project include is directory-qualified ("unwind/unwind.h")
# and points down the dependency order (README, Layout). Exit 1 listing each
# violation; 0 when clean. Usage: scripts/check-layout.sh [ROOT]
set -uo pipefail
ROOT=${1:-.}
cd "$ROOT" || exit 2

# Which directories a directory's files may include, itself included. The
# consumer's stack is a line: base < abi < model < proc < symbolizer < unwind
# < aggregate < sinks < pipeline < cli, with render (model -> pictures) and
# sources (host-wide perf rings -> raw samples, for the agent) off to the
# side. capture/ and preload/ run in the profiled process: base and
# the shared record formats (abi/) only, and preload/ adds capture/.
declare -A ALLOW=(
	[base]="base"
	[abi]="base abi"
	[capture]="base abi capture"
	[preload]="base abi capture preload"
	[model]="base model"
	[render]="base model render"
	[proc]="base model proc"
	[symbolizer]="base model proc symbolizer"
	[sources]="base abi sources"
	[unwind]="base abi model proc symbolizer unwind"
	[aggregate]="base abi model proc symbolizer unwind aggregate"
	[sinks]="base abi model proc symbolizer unwind aggregate sinks"
	[pipeline]="base abi model proc symbolizer unwind aggregate sinks pipeline"
	[cli]="base abi model render proc symbolizer unwind aggregate sinks pipeline sources cli"
)
# Outside the tree of layers: tests may include any layer but preload/ (they
# link the core library, which holds no preload code), private headers too.
TEST_DIRS="tests/unit tests/tools tests/fuzz tests/workloads"

bad=0
fail() { echo "check-layout: $*"; bad=1; }

# Where a qualified name lives: "symbolizer/x.h" at the top, others under profiler/.
header_path() {
	case $1 in
	symbolizer/*) echo "$1" ;;
	*) echo "profiler/$1" ;;
	esac
}

# Basenames of every project header, to catch unqualified includes.
declare -A HDR=()
while IFS= read -r h; do HDR[$(basename "$h")]=$h; done \
	< <(find profiler symbolizer -name '*.h' | sort)

# Nothing may sit directly in profiler/, nor in a directory with no rule.
for f in profiler/*; do
	[ -f "$f" ] && fail "$f: not in a layer directory"
	[ -d "$f" ] && [ -z "${ALLOW[$(basename "$f")]+x}" ] && fail "$f/: no rule for this directory"
done

check_file() { # file layer ('' for tests)
	local f=$1 layer=$2 line inc dir allowed
	while IFS= read -r line; do
		inc=${line#*\"}; inc=${inc%%\"*}
		case $inc in
		*/*)
			dir=${inc%%/*}
			if [ -z "${ALLOW[$dir]+x}" ]; then
				# A path of its own ("../unit/x.h" in tests): fine unless
				# it reaches a project header the long way round.
				case $(realpath -m "$(dirname "$f")/$inc") in
				"$PWD"/profiler/* | "$PWD"/symbolizer/*)
					fail "$f: #include \"$inc\": a project header by a relative path" ;;
				esac
				continue
			fi
			[ -f "$(header_path "$inc")" ] || { fail "$f: #include \"$inc\": no such header"; continue; }
			# *_internal.h: the directory's own, and white-box tests'.
			case $inc in
			*_internal.h)
				[ -z "$layer" ] || [ "$dir" = "$layer" ] ||
					fail "$f: #include \"$inc\": private to $dir/" ;;
			esac
			if [ -n "$layer" ]; then
				allowed=" ${ALLOW[$layer]} "
				[[ $allowed == *" $dir "* ]] ||
					fail "$f: #include \"$inc\": $layer/ may not depend on $dir/ (allowed: ${ALLOW[$layer]})"
			else
				[ "$dir" = preload ] &&
					fail "$f: #include \"$inc\": tests link the core, which has no preload/"
			fi
			;;
		*)
			[ -n "${HDR[$inc]+x}" ] &&
				fail "$f: #include \"$inc\": not directory-qualified (${HDR[$inc]#profiler/})"
			;;
		esac
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
}

while IFS= read -r f; do
	d=${f#profiler/}; d=${d%%/*}
	[ "${f%%/*}" = symbolizer ] && d=symbolizer
	check_file "$f" "$d"
done < <(find profiler symbolizer -mindepth 1 -name '*.[ch]' | sort)

for t in $TEST_DIRS; do
	[ -d "$t" ] || continue
	while IFS= read -r f; do check_file "$f" ""; done \
		< <(find "$t" -name '*.[ch]' -o -name '*.cpp' | sort)
done

[ $bad = 0 ] && echo "check-layout: ok"
exit $bad
