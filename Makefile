# FastVLM runtime build.
#
#   make              library, tools, ./bench (and the CUDA kernels whenever nvcc is found)
#   make test         CPU test suite (doctest), ends with "tests: N passed, N failed, N skipped"
#   make test-gpu     GPU test suite; says it skipped and exits 0 when no GPU is present
#   make test-asan    CPU suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz         libFuzzer target per parser, each run FUZZ_SECONDS seconds
#   make golden       regenerate tests/golden/ (needs Python and the pinned packages)
#   make deps         install the Debian packages the build needs (run as root)
#   make headers      copy the third-party headers into .deps/include (for machines without
#                     the Debian -dev packages: build there with EXTRA_INCLUDES=-I.deps/include)
#
# Knobs: CUDA=0 skips nvcc; EXTRA_INCLUDES adds include paths; ARCH_FLAGS sets the host ISA.

MAKEFLAGS  += -j$(shell nproc)
CXX        ?= g++
NVCC       ?= nvcc
BUILD      ?= build
ARCH_FLAGS ?= -march=native
OPT        ?= -O2
EXTRA_INCLUDES ?=
CUDA       ?= $(if $(shell command -v $(NVCC) 2>/dev/null),1,0)

WARNINGS  := -Wall -Wextra -Werror -Wno-error=deprecated-declarations
CXXFLAGS  += -std=c++17 $(OPT) -g $(ARCH_FLAGS) $(WARNINGS) -I. $(EXTRA_INCLUDES) -MMD -MP
LDLIBS    += -lpthread

ifeq ($(SAN),1)
  CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
endif

# ---------------------------------------------------------------- sources
# Library: every .cpp under the runtime folders (one idea per file, no list to maintain).
# The CLI's main() (runtime/fastvlm_main.cpp) is linked into ./fastvlm, not into the library.
CLI_SRC    := runtime/fastvlm_main.cpp
LIB_SRCS   := $(filter-out $(CLI_SRC),$(sort $(wildcard runtime/*.cpp runtime/*/*.cpp loader/*.cpp tokenizer/*.cpp model/*.cpp)))
LIB_OBJS   := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB        := $(BUILD)/libfastvlm.a

# CUDA kernels compiled by the host compiler under the SIMT fiber runtime (cuda/simt/), so
# that the very same kernel source runs on the CPU inside `make test`: the kernels, the kernel
# test fixtures shared with the GPU suite (tests/kernels/) and the runtime's own test kernels
# (tests/simt/). -fsanitize=thread only instruments memory accesses for the runtime's
# shared-memory race check (the hooks are in cuda/simt/race_check.cpp; libtsan is never
# linked); ASan builds cannot combine it and go without the race check. The cuBLASLt baseline
# (runtime/cuda/cublaslt_matmul.cu) calls the library, not our kernels: it is device-only.
SIMT_SRCS  := $(sort $(filter-out runtime/cuda/cublaslt_matmul.cu,\
                $(wildcard cuda/*.cu runtime/cuda/*.cu tests/kernels/*.cu tests/simt/*.cu)))
SIMT_OBJS  := $(SIMT_SRCS:%.cu=$(BUILD)/simt/%.o)
SIMT_RT_SRCS := $(sort $(wildcard cuda/simt/*.cpp))
SIMT_RT_OBJS := $(SIMT_RT_SRCS:%.cpp=$(BUILD)/obj/%.o)
SIMT_FLAGS := -x c++ -DFASTVLM_SIMT -include cuda/simt/simt.h -fno-strict-aliasing -Wno-unknown-pragmas \
              $(if $(filter 1,$(SAN)),,-fsanitize=thread)

TEST_SRCS  := $(sort $(wildcard tests/*.cpp))
TEST_OBJS  := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o)
TEST_BIN   := $(BUILD)/test_cpu

TOOL_SRCS  := $(sort $(wildcard tools/*.cpp))
TOOL_BINS  := $(TOOL_SRCS:tools/%.cpp=$(BUILD)/tools/%)

BENCH_SRCS := $(sort $(wildcard benchmarks/*.cpp))
BENCH_OBJS := $(BENCH_SRCS:%.cpp=$(BUILD)/obj/%.o)
# The CPU suite links the bench's code too (options, statistics, outputs, a miniature run), all
# but its main() and the kernel timings, which link the CUDA library when nvcc is around.
BENCH_TESTED_OBJS := $(filter-out $(BUILD)/obj/benchmarks/bench_main.o $(BUILD)/obj/benchmarks/bench_kernels.o,$(BENCH_OBJS))

FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.cpp))

# ---------------------------------------------------------------- CUDA (device build)
# The kernels and the CUDA backend (runtime/cuda/), which is also built under SIMT for the tests.
CUDA_SRCS  := $(sort $(wildcard cuda/*.cu runtime/cuda/*.cu))
CUDA_OBJS  := $(CUDA_SRCS:%.cu=$(BUILD)/cuda/%.o)
CUDA_LIB   := $(BUILD)/libfastvlm_cuda.a
# The GPU suite compiles the same kernel test fixtures (tests/kernels/) with nvcc; its main()
# is the CPU suite's tests/test_main.cpp.
GPU_TEST_SRCS := $(sort $(wildcard tests/gpu/*.cu))
GPU_TEST_OBJS := $(patsubst %.cu,$(BUILD)/cuda/%.o,$(GPU_TEST_SRCS) $(wildcard tests/kernels/*.cu))
GPU_TEST_BIN  := $(BUILD)/test_gpu
CUDA_ARCHS := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVCCFLAGS  := -std=c++17 -O3 -g -lineinfo -I. $(EXTRA_INCLUDES) $(CUDA_ARCHS) \
              -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror -MMD -MP
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(realpath $(shell command -v $(NVCC) 2>/dev/null)))
CUDA_LDLIBS := -lcublasLt -lcublas -lcudart_static -ldl -lrt -lpthread

# ./bench kernels times the kernels on a GPU when the bench is built with nvcc around: the GPU
# half of it (benchmarks/bench_kernels_gpu.cu) is compiled by nvcc and linked in.
# ./bench and ./fastvlm link the CUDA backend too and register it at start (FASTVLM_WITH_CUDA).
ifeq ($(CUDA)$(if $(wildcard benchmarks/bench_kernels_gpu.cu),1),11)
BENCH_CUDA_OBJS := $(BUILD)/cuda/benchmarks/bench_kernels_gpu.o
BENCH_CUDA_LINK := $(CUDA_LIB) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 $(CUDA_LDLIBS)
$(BUILD)/obj/benchmarks/bench_kernels.o: CXXFLAGS += -DFASTVLM_BENCH_GPU=1
$(BUILD)/obj/benchmarks/bench_main.o $(BUILD)/obj/runtime/fastvlm_main.o: CXXFLAGS += -DFASTVLM_WITH_CUDA=1
CLI_CUDA_LINK := $(CUDA_LIB) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 $(CUDA_LDLIBS)
endif

.PHONY: all test test-gpu test-asan fuzz fuzz-run golden deps headers clean
# ./bench and ./fastvlm sit at the top level for the default build; sanitizer and fuzzing builds
# keep theirs inside their own build folder so they never replace the optimised binaries.
ifeq ($(BUILD),build)
  BENCH_BIN := bench
  CLI_BIN   := fastvlm
else
  BENCH_BIN := $(BUILD)/bench
  CLI_BIN   := $(BUILD)/fastvlm
endif

all: $(LIB) $(TOOL_BINS) $(BENCH_BIN) $(if $(wildcard $(CLI_SRC)),$(CLI_BIN)) $(if $(filter 1,$(CUDA)),$(CUDA_LIB))

# ---------------------------------------------------------------- rules
$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/simt/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SIMT_FLAGS) -c $< -o $@

$(BUILD)/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CUDA_LIB): $(CUDA_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $< $(LIB) -o $@ $(LDLIBS)

$(TEST_BIN): $(TEST_OBJS) $(SIMT_OBJS) $(SIMT_RT_OBJS) $(BENCH_TESTED_OBJS) $(LIB)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $(TEST_OBJS) $(SIMT_OBJS) $(SIMT_RT_OBJS) $(BENCH_TESTED_OBJS) $(LIB) -o $@ $(LDLIBS)

# ./bench lives at the top level; its sources are in benchmarks/.
$(BENCH_BIN): $(BENCH_OBJS) $(BENCH_CUDA_OBJS) $(LIB) $(if $(BENCH_CUDA_OBJS),$(CUDA_LIB))
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $(BENCH_OBJS) $(BENCH_CUDA_OBJS) $(LIB) $(BENCH_CUDA_LINK) $(LIB) -o $@ $(LDLIBS)

$(CLI_BIN): $(BUILD)/obj/runtime/fastvlm_main.o $(LIB) $(if $(CLI_CUDA_LINK),$(CUDA_LIB))
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $< $(LIB) $(CLI_CUDA_LINK) $(if $(CLI_CUDA_LINK),$(LIB)) -o $@ $(LDLIBS)

# Tests find their data relative to the repository root.
test: all $(TEST_BIN)
	./$(TEST_BIN) $(TEST_ARGS)

test-asan:
	$(MAKE) BUILD=build/asan SAN=1 CUDA=0 OPT=-O1 test

# ---------------------------------------------------------------- GPU suite
# Runs the suite, then under compute-sanitizer memcheck and racecheck where the tool runs
# (tests/gpu/run.sh says plainly when there is no GPU or the tool refuses).
$(GPU_TEST_BIN): $(GPU_TEST_OBJS) $(BUILD)/obj/tests/test_main.o $(CUDA_LIB) $(LIB)
	$(NVCC) $(CUDA_ARCHS) $(GPU_TEST_OBJS) $(BUILD)/obj/tests/test_main.o $(CUDA_LIB) $(LIB) -o $@ \
	  -L$(CUDA_HOME)/lib64 -Xlinker -rpath,$(CUDA_HOME)/lib64 $(CUDA_LDLIBS)

ifeq ($(CUDA),1)
test-gpu: $(GPU_TEST_BIN)
	@sh tests/gpu/run.sh ./$(GPU_TEST_BIN) $(TEST_ARGS)
else
test-gpu:
	@echo "test-gpu: skipped: built with CUDA=0 (nvcc not found or disabled)"
endif

# ---------------------------------------------------------------- fuzzing (clang libFuzzer)
# The library is rebuilt with clang and coverage instrumentation in build/fuzz, then each
# tests/fuzz/fuzz_<parser>.cpp is linked against it and run from its seeds for FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
ifeq ($(FUZZING),1)
  CXX       := clang++
  CXXFLAGS  += -fsanitize=fuzzer-no-link,address,undefined
endif
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.cpp=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/%.cpp $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -fsanitize=fuzzer,address,undefined $< $(LIB) -o $@ $(LDLIBS)

fuzz:
	$(MAKE) BUILD=build/fuzzlib FUZZING=1 CUDA=0 OPT=-O1 fuzz-run

fuzz-run: $(FUZZ_BINS)
	@set -e; for bin in $(FUZZ_BINS); do \
	  name=$$(basename $$bin); corpus=$(BUILD)/corpus/$$name; mkdir -p $$corpus; \
	  seeds=tests/fuzz/seeds/$$name; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	  $$bin -artifact_prefix=$(BUILD)/$$name- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=0 \
	    $$corpus $$seeds > $(BUILD)/$$name.log 2>&1 || { tail -60 $(BUILD)/$$name.log; exit 1; }; \
	  echo "fuzz: $$name ok, $$(ls $$corpus | wc -l) inputs in its corpus"; \
	done

# ---------------------------------------------------------------- housekeeping
golden:
	bash tools/golden/make_all.sh

deps:
	apt-get update && apt-get install -y --no-install-recommends \
	  g++ make nlohmann-json3-dev libstb-dev doctest-dev unicode-data clang libclang-rt-dev

headers:
	mkdir -p .deps/include
	cp -r /usr/include/nlohmann /usr/include/stb /usr/include/doctest .deps/include/

clean:
	rm -rf build bench fastvlm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
