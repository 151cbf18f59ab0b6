// heap_cxx: C++ allocation paths (operator new/delete, new[], containers,
// std::string, exceptions thrown and caught, std::thread), printing a
// checksum that a run under the profiler must reproduce exactly.
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static unsigned long work(int seed)
{
	unsigned long sum = 0;
	std::map<int, std::string> m;
	for (int i = 0; i < 20000; i++) {
		m[i * 7 % 1009 + seed] = std::string(static_cast<size_t>(i % 300), 'x');
		std::unique_ptr<int[]> a(new int[static_cast<size_t>(i % 64 + 1)]());
		sum += static_cast<unsigned long>(a[0]) + m.size();
		try {
			if (i % 97 == 0)
				throw std::runtime_error("error " + std::to_string(i));
		} catch (const std::exception &e) {
			sum += std::string(e.what()).size();
		}
	}
	std::vector<std::vector<int>> vv(1000);
	for (size_t i = 0; i < vv.size(); i++)
		vv[i].resize(i);
	for (auto &v : vv)
		sum += v.size();
	return sum;
}

int main()
{
	unsigned long total[4] = {};
	std::vector<std::thread> ts;
	for (int t = 0; t < 4; t++)
		ts.emplace_back([t, &total] { total[t] = work(t); });
	for (auto &t : ts)
		t.join();
	std::printf("checksum %lu %lu %lu %lu\n", total[0], total[1], total[2], total[3]);
	return 0;
}
