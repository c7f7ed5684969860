#include "runtime/launch_plan.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace kvjit {
namespace {

DecodeArgs valid_decode_args() {
  static int dummy[4];
  DecodeArgs a;
  a.q = a.k_cache = a.v_cache = a.k_scales = a.v_scales = dummy;
  a.o = dummy;
  a.batch = 3;
  a.num_kv_heads = 8;
  a.block_table = a.seq_lens = a.indptr = a.indices = a.last_page_len = dummy;
  a.max_blocks_per_seq = 4;
  a.sm_scale = 0.125f;
  return a;
}

// Arguments of a launch that may split: `batch` sequences of up to `len` tokens, a workspace of `bytes` (the
// plan never writes through it).
DecodeArgs split_args(int batch, int len, size_t bytes) {
  alignas(16) static float ws[1];
  DecodeArgs a = valid_decode_args();
  a.batch = batch;
  a.max_seq_len = len;
  a.workspace = ws;
  a.workspace_bytes = bytes;
  return a;
}

Spec decode_spec(int gqa) {
  Spec s;
  s.gqa = gqa;
  s.arch = Arch{90, false};
  return s;
}

TEST(LaunchPlan, DecodeGridCoversKvHeadsChunksAndBatch) {
  const Spec spec = decode_spec(16);  // 16 q heads per group, 8 per CTA -> 2 chunks
  const LaunchShape shape = launch_shape(spec);
  DecodeParams p;
  auto plan = plan_decode(spec, shape, valid_decode_args(), 132, &p);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->grid[0], 8u * static_cast<unsigned>(spec.gqa / shape.heads_per_cta));
  EXPECT_EQ(plan->grid[1], 3u);
  EXPECT_EQ(plan->block[0], static_cast<unsigned>(shape.threads()));
  EXPECT_EQ(p.batch, 3);
  EXPECT_FLOAT_EQ(p.sm_scale, 0.125f);
}

// pdl asks for programmatic dependent launch; only kernels that wait for the grid before them (decode from
// sm_90) may take it, so an sm_80 kernel or a launch that did not ask stays a plain launch.
TEST(LaunchPlan, ProgrammaticLaunchOnlyWhereAskedAndTheKernelWaits) {
  DecodeArgs a = valid_decode_args();
  DecodeParams p;
  for (const bool asked : {false, true})
    for (const int sm : {80, 89, 90, 100}) {
      Spec spec = decode_spec(4);
      spec.arch = Arch{sm, false};
      a.pdl = asked;
      auto plan = plan_decode(spec, launch_shape(spec), a, 132, &p);
      ASSERT_TRUE(plan.ok()) << plan.error().message;
      EXPECT_EQ(plan->programmatic, asked && sm >= 90) << "sm_" << sm << " asked=" << asked;
    }
}

struct BadDecode {
  const char* name;
  void (*mutate)(DecodeArgs&);
  const char* message;
};

TEST(LaunchPlan, DecodeRejectsBadArguments) {
  const BadDecode rows[] = {
      {"batch 0", [](DecodeArgs& a) { a.batch = 0; }, "batch=0: must be positive"},
      {"batch huge", [](DecodeArgs& a) { a.batch = 70000; }, "batch=70000: must be at most 65535"},
      {"kv heads", [](DecodeArgs& a) { a.num_kv_heads = -1; }, "num_kv_heads=-1: must be positive"},
      {"null q", [](DecodeArgs& a) { a.q = nullptr; }, "q and o must be non-null"},
      {"null cache", [](DecodeArgs& a) { a.v_cache = nullptr; }, "k_cache and v_cache must be non-null"},
      {"window", [](DecodeArgs& a) { a.window = -1; }, "window=-1: must not be negative"},
      {"splits", [](DecodeArgs& a) { a.num_splits = 129; }, "num_splits=129: must be in [0, 128]"},
      {"splits no workspace", [](DecodeArgs& a) { a.num_splits = 4; }, "num_splits=4 needs a workspace"},
      {"workspace misaligned", [](DecodeArgs& a) { a.workspace = reinterpret_cast<float*>(uintptr_t{0x1008}); },
       "workspace must be 16-byte aligned (as every allocator returns)"},
      {"null scales", [](DecodeArgs& a) { a.k_scales = nullptr; }, "kv=int8 needs k_scales and v_scales"},
      {"null table", [](DecodeArgs& a) { a.block_table = nullptr; }, "paging=table needs block_table and seq_lens"},
      {"max blocks", [](DecodeArgs& a) { a.max_blocks_per_seq = 0; }, "max_blocks_per_seq=0: must be positive"},
      {"scale", [](DecodeArgs& a) { a.sm_scale = 0.0f; }, "sm_scale=0: must be positive and finite"},
  };
  Spec spec = decode_spec(4);
  spec.kv = KvDtype::int8;
  for (const BadDecode& row : rows) {
    SCOPED_TRACE(row.name);
    DecodeArgs a = valid_decode_args();
    row.mutate(a);
    DecodeParams p;
    auto plan = plan_decode(spec, launch_shape(spec), a, 132, &p);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(plan.error().message, to_string(spec) + ": " + row.message);
  }
}

TEST(LaunchPlan, CsrNeedsItsArrays) {
  Spec spec = decode_spec(1);
  spec.paging = Paging::csr;
  DecodeArgs a = valid_decode_args();
  a.indices = nullptr;
  DecodeParams p;
  auto plan = plan_decode(spec, launch_shape(spec), a, 132, &p);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("paging=csr needs indptr, indices and last_page_len"), std::string::npos);
}

TEST(LaunchPlan, WrongKindOrSpecIsRefused) {
  Spec spec = decode_spec(1);
  AppendArgs aa;
  AppendParams ap;
  auto r = plan_append(spec, launch_shape(spec), aa, &ap);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("this kernel is a decode kernel; append arguments given"), std::string::npos);

  Spec other = spec;
  other.page_size = 32;
  DecodeArgs a = valid_decode_args();
  a.expected_spec = &other;
  DecodeParams p;
  auto r2 = plan_decode(spec, launch_shape(spec), a, 132, &p);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("arguments were shaped for " + to_string(other)), std::string::npos);

  // arch=auto in the expected spec matches whatever the device resolved it to.
  Spec auto_arch = spec;
  auto_arch.arch = Arch{};
  a.expected_spec = &auto_arch;
  EXPECT_TRUE(plan_decode(spec, launch_shape(spec), a, 132, &p).ok());
}

// The device-sized workspace lets every batch up to the one it was sized for take the partitions the rule
// chooses (never fewer for lack of room); no batch's partial outputs reach the merge counters of any batch
// up to that one (the counters keep their zeros from launch to launch in one workspace); and it stays at
// most the size of `batch` sequences at the automatic limit.
TEST(LaunchPlan, DeviceWorkspaceHoldsEveryChosenSplit) {
  for (int gqa : {1, 4, 8}) {
    const Spec spec = decode_spec(gqa);
    const LaunchShape shape = launch_shape(spec);
    for (DeviceSlots device : {DeviceSlots{132, 3}, DeviceSlots{132, 1}, DeviceSlots{8, 2}}) {
      const int batch = 200;
      const size_t bytes = decode_workspace_bytes_for_device(spec, shape, batch, 8, device);
      EXPECT_LE(bytes, decode_workspace_bytes(spec, shape, batch, 8, kAutoMaxSplits));
      // The counters of `batch` sequences: one u32 per (sequence, kv head, chunk), counted from the end.
      const size_t counters_start = bytes - static_cast<size_t>(batch) * 8 * shape.chunks(spec) * 4;
      for (int b = 1; b <= batch; ++b) {
        const int s = choose_splits(spec, shape, b, 8, 1 << 30, device);
        const size_t partial_end =
            decode_workspace_bytes(spec, shape, b, 8, s) - static_cast<size_t>(b) * 8 * shape.chunks(spec) * 4;
        ASSERT_LE(partial_end, counters_start) << "gqa " << gqa << " batch " << b << " slots " << device.slots();
      }
      for (int b = 1; b <= batch; ++b)
        for (int len : {1000, 32768, 1 << 20}) {
          const DecodeArgs a = split_args(b, len, bytes);
          DecodeParams p;
          ASSERT_TRUE(plan_decode(spec, shape, a, device, &p).ok());
          ASSERT_EQ(p.num_splits, choose_splits(spec, shape, b, 8, len, device))
              << "gqa " << gqa << " batch " << b << " len " << len << " slots " << device.slots();
        }
    }
  }
}

// Where one wave of unsplit CTAs already gives every SM 12 warps (tensor-core body, CTAs of 4 warps), no
// split: with 6 CTAs an SM (792 slots on 132 SMs), batch 64's 512 CTAs fill 65% of the slots but give each
// SM 15.5 warps. The CUDA-core body and grids below 12 warps an SM keep the fill rule.
TEST(LaunchPlan, AWaveThatSaturatesTheSmsIsNotSplit) {
  const Spec spec = parse_spec("decode:hd=64,gqa=4,kv=e4m3,arch=sm_90").value_or_throw();
  const LaunchShape shape = launch_shape(spec);
  ASSERT_TRUE(shape.tensor_cores);
  ASSERT_EQ(shape.warps, 4);
  ASSERT_EQ(shape.chunks(spec), 1);
  const DeviceSlots six{132, 6};
  EXPECT_EQ(choose_splits(spec, shape, 64, 8, 4096, six), 1);  // 512 CTAs: 15.5 warps an SM
  EXPECT_EQ(choose_splits(spec, shape, 50, 8, 4096, six), 1);  // 400 CTAs: 12.1
  EXPECT_GT(choose_splits(spec, shape, 48, 8, 4096, six), 1);  // 384 CTAs: 11.6, fill 48%
  EXPECT_GT(choose_splits(spec, shape, 128, 8, 4096, six), 1);  // 1024 CTAs: past one wave, fill 65%
  LaunchShape cuda_cores = shape;
  cuda_cores.tensor_cores = false;
  EXPECT_GT(choose_splits(spec, cuda_cores, 64, 8, 4096, six), 1);
}

TEST(LaunchPlan, SplitsFillTheGpuWithinTheWorkspace) {
  const Spec spec = decode_spec(4);
  const LaunchShape shape = launch_shape(spec);
  ASSERT_EQ(shape.chunks(spec), 1);  // gqa 4 in one CTA: a CTA per (sequence, kv head, split)
  // One sequence, 8 kv heads: 8 CTAs. Three CTAs per SM on 132 SMs is 396 slots: even kAutoMaxSplits (32)
  // partitions fill only 256 of them, so take all 32.
  EXPECT_EQ(choose_splits(spec, shape, 1, 8, 32768, DeviceSlots{132, 3}), 32);
  // One CTA per SM: 16 partitions fill 128 of 132 slots; 17 would start a second, nearly empty wave.
  EXPECT_EQ(choose_splits(spec, shape, 1, 8, 32768, 132), 16);
  // 4096 tokens allow at most 16 partitions of 256.
  EXPECT_EQ(choose_splits(spec, shape, 1, 8, 4096, DeviceSlots{132, 3}), 16);
  // Short sequences are not cut below 256 tokens per partition.
  EXPECT_EQ(choose_splits(spec, shape, 1, 8, 1000, DeviceSlots{132, 3}), 3);
  // Batch 64: 512 CTAs in 396 slots is one full wave and a 29% one (65% fill); 3 partitions make 1536 CTAs,
  // 3.9 waves (97% fill), within 3% of the best (10: 99.5%); 2 (86%) is not.
  EXPECT_EQ(choose_splits(spec, shape, 64, 8, 4096, DeviceSlots{132, 3}), 3);
  // Batch 128: 1024 CTAs in 396 slots fill 86% of 3 waves: no split.
  EXPECT_EQ(choose_splits(spec, shape, 128, 8, 4096, DeviceSlots{132, 3}), 1);
  // Batch 64 at one CTA per SM: 512 CTAs are 3.9 waves of 132 (97%): no split.
  EXPECT_EQ(choose_splits(spec, shape, 64, 8, 32768, 132), 1);
  // Whatever the device, the count stays in [1, kAutoMaxSplits] and never cuts below 256 tokens.
  for (int sms : {1, 7, 132, 1000})
    for (int per_sm : {1, 2, 3, 16})
      for (int batch : {1, 5, 64, 1000})
        for (int len : {1, 255, 256, 4096, 1 << 20}) {
          const int s = choose_splits(spec, shape, batch, 8, len, DeviceSlots{sms, per_sm});
          EXPECT_GE(s, 1);
          EXPECT_LE(s, kAutoMaxSplits);
          EXPECT_LE(s, std::max(1, len / 256));
        }

  alignas(16) static float ws[1];
  DecodeArgs a = valid_decode_args();
  a.batch = 1;
  a.max_seq_len = 32768;
  a.workspace = ws;
  a.workspace_bytes = decode_workspace_bytes(spec, shape, 1, 8);
  DecodeParams p;
  auto plan = plan_decode(spec, shape, a, DeviceSlots{132, 3}, &p);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->grid[2], 32u);
  EXPECT_EQ(p.num_splits, 32);
  // A smaller workspace gives fewer partitions, never an overflow.
  a.workspace_bytes = decode_workspace_bytes(spec, shape, 1, 8, 5);
  plan = plan_decode(spec, shape, a, DeviceSlots{132, 3}, &p);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(p.num_splits, 5);
  // No workspace: no split.
  a.workspace = nullptr;
  plan = plan_decode(spec, shape, a, 132, &p);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(p.num_splits, 1);
}

// The two CTA sizes of a one-byte kernel at head_dim 128 on an H100: 3 CTAs of 4 warps an SM (396 slots) or
// 2 of 6 (264). Each row's size is the one measured faster there (e4m3, 4096 tokens unless given, µs with 4 ->
// 6 warps at the split rule's choice; docs/PERFORMANCE.md §3j).
TEST(LaunchPlan, TheCtaSizeFitsTheGridToItsWaves) {
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=e4m3,arch=sm_90").value_or_throw();
  const LaunchShape shape = launch_shape(spec);
  ASSERT_EQ(shape.wide_warps, 6);
  ASSERT_EQ(shape.chunks(spec), 1);
  const DeviceSlots h100{132, 3, 2};
  struct Row {
    int batch, len, warps;
  };
  const Row rows[] = {
      {1, 16384, 6},   // 55.3% -> 59.1% of copy
      {1, 32768, 6},   // 67.2% -> 72.9%
      {4, 4096, 6},    // 18.6 -> 18.4
      {8, 4096, 6},    // 30.6 -> 30.3
      {16, 4096, 6},   // 3 splits 53.5 against 2 splits 53.0
      {24, 4096, 4},   // 76.1 -> 97.2: 6 warps need 11 splits to fill their waves
      {32, 4096, 6},   // 103.0 -> 95.9
      {40, 4096, 4},   // 122.0 -> 136.7
      {48, 4096, 4},   // 141.1 -> 190.0: 384 CTAs fill 97% of 396 slots
      {64, 2048, 6},   // 79.9% -> 90.6%
      {64, 4096, 6},   // 88.9% -> 95.5%: 512 CTAs fill 97% of 2 waves of 264
      {64, 16384, 6},  // 98.0% -> 98.9%
      {80, 4096, 4},   // 243.5 -> 250.7: 81% fill either way, a tie goes to 4
      {96, 4096, 4},   // 277.9 -> 278.6
      {128, 4096, 6},  // 93.8% -> 96.3%
  };
  alignas(16) static float ws[1];
  for (const Row& r : rows) {
    SCOPED_TRACE(fmt::format("batch {} x {}", r.batch, r.len));
    const DecodeGrid grid = choose_decode_grid(spec, shape, r.batch, 8, r.len, h100);
    EXPECT_EQ(grid.warps, r.warps);
    EXPECT_EQ(choose_cta_warps(spec, shape, r.batch, 8, r.len, h100), r.warps);
    // The partitions are the split rule's for the chosen size's own slots.
    EXPECT_EQ(grid.splits, choose_splits(spec, shape.with_warps(r.warps), r.batch, 8, r.len,
                                         r.warps == 6 ? h100.wide() : DeviceSlots{132, 3}));
    // And the launch takes both.
    DecodeArgs a = valid_decode_args();
    a.batch = r.batch;
    a.max_seq_len = r.len;
    a.workspace = ws;
    a.workspace_bytes = decode_workspace_bytes_for_device(spec, shape, r.batch, 8, h100);
    DecodeParams p;
    auto plan = plan_decode(spec, shape, a, h100, &p);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    EXPECT_EQ(plan->block[0], 32u * static_cast<unsigned>(r.warps));
    // Room for the launched warps' outputs only, after 6 warps' max and sum and the merge flag.
    EXPECT_EQ(plan->shared_bytes, static_cast<unsigned>(4 * (2 * 6 * 4 + 1) + r.warps * 4 * 128 * 4));
    EXPECT_EQ(p.num_splits, grid.splits);
  }
  // Without the second size's occupancy (a failed query) or without a second size, always the first.
  EXPECT_EQ(choose_cta_warps(spec, shape, 64, 8, 4096, DeviceSlots{132, 3}), 4);
  const Spec f16 = parse_spec("decode:hd=128,gqa=4,kv=f16,arch=sm_90").value_or_throw();
  EXPECT_EQ(choose_cta_warps(f16, launch_shape(f16), 64, 8, 4096, DeviceSlots{132, 2, 1}), 4);
}

// DecodeArgs::cta_warps fixes the size: either of the kernel's, never another.
TEST(LaunchPlan, ACtaSizeAskedForMustBeOneTheKernelRuns) {
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=int8,arch=sm_90").value_or_throw();
  const LaunchShape shape = launch_shape(spec);
  DecodeArgs a = valid_decode_args();
  DecodeParams p;
  for (int warps : {4, 6}) {
    a.cta_warps = warps;
    auto plan = plan_decode(spec, shape, a, DeviceSlots{132, 3, 2}, &p);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    EXPECT_EQ(plan->block[0], 32u * static_cast<unsigned>(warps));
  }
  for (int warps : {-1, 2, 5, 8}) {
    a.cta_warps = warps;
    auto plan = plan_decode(spec, shape, a, DeviceSlots{132, 3, 2}, &p);
    ASSERT_FALSE(plan.ok()) << warps;
    EXPECT_NE(plan.error().message.find(fmt::format("cta_warps={}: this kernel runs CTAs of 4 or 6 warps", warps)),
              std::string::npos)
        << plan.error().message;
  }
  const Spec f16 = parse_spec("decode:hd=128,gqa=4,kv=f16,arch=sm_90").value_or_throw();
  a.cta_warps = 0;
  auto one_size = plan_decode(f16, launch_shape(f16), a, DeviceSlots{132, 2}, &p);
  ASSERT_TRUE(one_size.ok()) << one_size.error().message;
  EXPECT_EQ(one_size->shared_bytes, 0u) << "a kernel of one CTA size has static shared memory only";
  a.cta_warps = 6;
  auto plan = plan_decode(f16, launch_shape(f16), a, DeviceSlots{132, 2}, &p);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("cta_warps=6: this kernel runs CTAs of 4 warps"), std::string::npos)
      << plan.error().message;
}

// A fixed CTA size takes that size's own split choice, whichever size the launch would have chosen.
TEST(LaunchPlan, AFixedCtaSizeSplitsForItsOwnSlots) {
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=e4m3,arch=sm_90").value_or_throw();
  const LaunchShape shape = launch_shape(spec);
  const DeviceSlots h100{132, 3, 2};
  bool sizes_split_differently = false;
  for (int batch : {1, 4, 16, 40, 64}) {
    // Room for any automatic split count (the device-sized workspace holds only the chosen size's).
    DecodeArgs a = split_args(batch, 32768, decode_workspace_bytes(spec, shape, batch, 8, kAutoMaxSplits));
    const int narrow = choose_splits(spec, shape.with_warps(4), batch, 8, 32768, DeviceSlots(132, 3));
    const int wide = choose_splits(spec, shape.with_warps(6), batch, 8, 32768, h100.wide());
    sizes_split_differently |= narrow != wide;
    for (auto [warps, splits] : {std::pair{4, narrow}, std::pair{6, wide}}) {
      a.cta_warps = warps;
      DecodeParams p;
      auto plan = plan_decode(spec, shape, a, h100, &p);
      ASSERT_TRUE(plan.ok()) << plan.error().message;
      EXPECT_EQ(plan->grid[2], static_cast<unsigned>(splits)) << "batch " << batch << ", " << warps << " warps";
      EXPECT_EQ(p.num_splits, splits);
    }
  }
  EXPECT_TRUE(sizes_split_differently) << "the table above must tell the two sizes' choices apart";
}

// The device workspace holds the partitions of whichever size each batch takes.
TEST(LaunchPlan, DeviceWorkspaceHoldsTheSplitsOfBothCtaSizes) {
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=q8,arch=sm_90").value_or_throw();
  const LaunchShape shape = launch_shape(spec);
  for (DeviceSlots device : {DeviceSlots{132, 3, 2}, DeviceSlots{8, 3, 2}, DeviceSlots{132, 3, 1}}) {
    const int batch = 200;
    const size_t bytes = decode_workspace_bytes_for_device(spec, shape, batch, 8, device);
    const size_t counters_start = bytes - static_cast<size_t>(batch) * 8 * shape.chunks(spec) * 4;
    for (int b = 1; b <= batch; ++b) {
      const DecodeGrid grid = choose_decode_grid(spec, shape, b, 8, 1 << 30, device);
      const size_t partial_end = decode_workspace_bytes(spec, shape, b, 8, grid.splits) -
                                 static_cast<size_t>(b) * 8 * shape.chunks(spec) * 4;
      ASSERT_LE(partial_end, counters_start) << "batch " << b << " slots " << device.slots();
      for (int len : {1000, 32768}) {
        const DecodeArgs a = split_args(b, len, bytes);
        DecodeParams p;
        auto plan = plan_decode(spec, shape, a, device, &p);
        ASSERT_TRUE(plan.ok());
        const DecodeGrid want = choose_decode_grid(spec, shape, b, 8, len, device);
        ASSERT_EQ(p.num_splits, want.splits) << "batch " << b << " len " << len << " slots " << device.slots();
        ASSERT_EQ(plan->block[0], 32u * static_cast<unsigned>(want.warps));
      }
    }
  }
}

TEST(LaunchPlan, AppendGridAndEmptyBatch) {
  Spec spec = decode_spec(1);
  spec.kind = Kind::append;
  static int dummy[4];
  static int64_t slots[4];
  AppendArgs a;
  a.k = a.v = dummy;
  a.k_cache = a.v_cache = dummy;
  a.slot_mapping = slots;
  a.num_kv_heads = 9;
  AppendParams p;
  a.num_tokens = 0;
  auto empty = plan_append(spec, launch_shape(spec), a, &p);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty);
  a.num_tokens = 5;
  auto plan = plan_append(spec, launch_shape(spec), a, &p);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->grid[0], 5u);
  EXPECT_EQ(plan->grid[1], 3u);  // 9 heads, 4 warps per CTA
  a.k = nullptr;
  EXPECT_FALSE(plan_append(spec, launch_shape(spec), a, &p).ok());
}

}  // namespace
}  // namespace kvjit
