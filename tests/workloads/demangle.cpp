// Symbolizer test workload (C++): frames in a namespaced class method and a
// template, for demangling. Prints "frame I PATH OFFSET" lines (frames.h).
#include <execinfo.h>

#include "frames.h"

static void *frames[32];
static int n_frames;
volatile int sink;

namespace spanprof_test {
struct Widget {
	__attribute__((noinline)) int spin(int n);
};

template <typename T> __attribute__((noinline)) T twice(T v)
{
	n_frames = backtrace(frames, 32); // @L:twice
	sink++;
	return v + v;
}

int Widget::spin(int n)
{
	int r = twice<long>(n); // @L:spin
	sink++;
	return r;
}
} // namespace spanprof_test

int main()
{
	spanprof_test::Widget w;
	int r = w.spin(3); // @L:cxx_main
	print_frames(frames, n_frames);
	return r == 6 ? 0 : 1;
}
