#!/usr/bin/env bash
# `make install` puts the CLI, the preload library, the public header and a
# pkg-config file under DESTDIR/PREFIX, and a program built against the
# installed header and library with pkg-config links and runs.
source "$(dirname "$0")/../lib.sh"

DEST=$T/root
make -C "$ROOT" --no-print-directory -s BUILD="$BUILD" install DESTDIR="$DEST" PREFIX=/opt/spanprof \
  >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
for f in bin/spanprof lib/libspanprof.so include/spanprof.h lib/pkgconfig/spanprof.pc; do
  check "installed $f" test -e "$DEST/opt/spanprof/$f"
done
check "installed CLI runs" "$DEST/opt/spanprof/bin/spanprof" --version

# pkg-config with the staged tree: rewrite the prefix as a packager would.
sed "s|^prefix=.*|prefix=$DEST/opt/spanprof|" "$DEST/opt/spanprof/lib/pkgconfig/spanprof.pc" \
  > "$T/spanprof.pc"
cat > "$T/app.c" <<'C'
#include <spanprof.h>
#include <stdio.h>
int main(void)
{
	spanprof_span_ctx ctx;
	int rc = spanprof_span_set_traceparent(
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "GET /x");
	spanprof_span_get(&ctx);
	printf("rc=%d active=%d name=%s\n", rc, ctx.active, ctx.name);
	return rc != 0 || !ctx.active;
}
C
# shellcheck disable=SC2046
cc -o "$T/app" "$T/app.c" $(PKG_CONFIG_PATH=$T pkg-config --cflags --libs spanprof) \
  || fail "cannot build against the installed library with pkg-config"
out=$(LD_LIBRARY_PATH=$DEST/opt/spanprof/lib SPANPROF_OUTPUT=$T/out "$T/app") \
  || fail "linked program failed: $out"
check "span API works through the installed library ($out)" grep -q 'name=GET /x' <<<"$out"

# The same source without the library: weak symbols, the macros degrade.
cat > "$T/noapp.c" <<'C'
#include <spanprof.h>
#include <stdio.h>
int main(void)
{
	int rc = SPANPROF_SPAN_SET_TRACEPARENT(
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "GET /x");
	SPANPROF_SPAN_CLEAR();
	printf("rc=%d\n", rc);
	return rc != SPANPROF_ENOSYS;
}
C
cc -I"$DEST/opt/spanprof/include" -o "$T/noapp" "$T/noapp.c" || fail "cannot build without the library"
check "runs unchanged without libspanprof" "$T/noapp"
