# make        build into build/ (the binary is build/frazil)
# make run    install what is missing, build, start a standalone broker
# make test   install what is missing, build, run every test
.PHONY: all deps venv run test bench format clean

BUILD_TYPE ?= RelWithDebInfo
ARGS ?=

all:
	cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	cmake --build build

deps:
	scripts/install-deps.sh

venv: deps
	scripts/setup-venv.sh

run: deps all
	./build/frazil serve $(ARGS)

test: deps
	scripts/run-tests.sh

bench: venv all
	./build/bench/wal_bench
	./build/bench/parquet_bench --rows 100000 --codec zstd
	./build/bench/catalog_bench

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz build-clang build-tsan
