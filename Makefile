# Thin wrapper over CMake. `make` builds, `make test` builds and runs every test.
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build test test-san bootstrap fuzz format clean demo

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: bootstrap build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit and integration tests again under ASan+UBSan.
test-san: bootstrap
	cmake -S . -B $(SAN_BUILD) -DHERALD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE nosan

# Short libFuzzer runs of every fuzz target (clang).
FUZZ_SECONDS ?= 30
fuzz: bootstrap
	CC=clang cmake -S . -B build-fuzz -DHERALD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS)
	tests/fuzz/run-all build-fuzz $(FUZZ_SECONDS)


# The seed's Producer and Consumer against herald-server for about 10 s.
demo: build
	@scripts/demo $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-fuzz
