// The tensor-core decode option (mma=1): where it is valid, how it prints, the launch shape it gets, and
// that every format it serves compiles to MMA code without spills.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "compiler/launch_shape.h"
#include "compiler/nvrtc_backend.h"
#include "compiler/specializer.h"

namespace kvjit {
namespace {

Spec parsed(const std::string& text) {
  auto r = parse_spec(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Spec{};
}

TEST(MmaOptionTest, PrintsOnlyWhenSetAndRoundTrips) {
  Spec s = parsed("decode:hd=128,gqa=4,kv=int8,arch=sm_90");
  EXPECT_EQ(s.mma, Mma::auto_);
  EXPECT_EQ(to_string(s).find("mma"), std::string::npos);
  EXPECT_EQ(parsed("decode:hd=128,gqa=4,kv=int8,arch=sm_90,mma=auto"), s);
  s = parsed("decode:mma=1,hd=128,gqa=4,kv=int8,arch=sm_90");
  EXPECT_EQ(s.mma, Mma::on);
  EXPECT_EQ(to_string(s), "decode:hd=128,page=16,gqa=4,kv=int8,q=f16,layout=nhd,paging=table,arch=sm_90,mma=1");
  EXPECT_EQ(parsed(to_string(s)), s);
  EXPECT_NE(kernel_symbol(s), kernel_symbol(parsed("decode:hd=128,gqa=4,kv=int8,arch=sm_90")));
  s = parsed("decode:mma=0,hd=128,gqa=4,kv=int8,arch=sm_90");
  EXPECT_EQ(s.mma, Mma::off);
  EXPECT_EQ(to_string(s), "decode:hd=128,page=16,gqa=4,kv=int8,q=f16,layout=nhd,paging=table,arch=sm_90,mma=0");
  EXPECT_EQ(parsed(to_string(s)), s);
}

// mma=0 where there is no tensor-core body names the same kernel as the default: one text, one struct.
TEST(MmaOptionTest, OffWithoutATensorCoreBodyIsTheDefault) {
  for (const char* text : {"decode:kv=bf16,hd=256", "decode:kv=int8,hd=80", "append:kv=int8,hd=128"}) {
    SCOPED_TRACE(text);
    const Spec plain = parsed(text);
    const Spec off = parsed(std::string(text) + ",mma=0");
    EXPECT_EQ(off, plain);
    EXPECT_EQ(to_string(off), to_string(plain));
    Spec built = plain;
    built.mma = Mma::off;  // built in code: printed the same way
    EXPECT_EQ(to_string(built), to_string(plain));
  }
}

TEST(MmaOptionTest, AutoTakesTheTensorCoresWhereSupported) {
  EXPECT_TRUE(uses_tensor_cores(parsed("decode:hd=128,gqa=4,kv=int8")));
  EXPECT_TRUE(uses_tensor_cores(parsed("decode:hd=128,gqa=4,kv=f16")));
  EXPECT_FALSE(uses_tensor_cores(parsed("decode:hd=128,gqa=4,kv=int8,mma=0")));
  EXPECT_TRUE(uses_tensor_cores(parsed("decode:hd=128,gqa=4,kv=bf16")));
  EXPECT_FALSE(uses_tensor_cores(parsed("decode:hd=256,gqa=4,kv=bf16")));
  EXPECT_FALSE(uses_tensor_cores(parsed("decode:hd=80,gqa=4,kv=int8")));
  EXPECT_FALSE(uses_tensor_cores(parsed("append:hd=128,kv=int8")));
  EXPECT_TRUE(uses_tensor_cores(parsed("decode:hd=128,gqa=4,kv=int8,mma=1")));
}

TEST(MmaOptionTest, InvalidWhereTheBodyDoesNotServe) {
  struct Row {
    const char* text;
    bool ok;
  };
  const Row rows[] = {
      {"decode:kv=f16,hd=128,mma=1", true},   {"decode:kv=int8,hd=256,mma=1", true},
      {"decode:kv=q8,hd=64,mma=1", true},     {"decode:kv=e4m3,hd=32,mma=1", true},
      {"decode:kv=e5m2,hd=96,mma=1", true},   {"decode:kv=int8,hd=96,q=bf16,mma=1", true},
      {"decode:kv=bf16,hd=128,mma=1", true},   // bf16 pairs
      {"decode:kv=bf16,hd=256,mma=1", false},  // the tile would spill, as for f16
      {"decode:kv=f16,hd=256,mma=1", false},   // the tile would spill
      {"decode:kv=q8,hd=96,mma=1", false},     // a lane's slice would straddle a scale block
      {"decode:kv=int8,hd=80,mma=1", false},   // not a multiple of 32
      {"decode:kv=int8,hd=512,mma=1", false},
      {"append:kv=int8,hd=128,mma=1", false},
      {"decode:kv=int8,mma=2", false},
      {"decode:kv=int8,mma=on", false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.text);
    auto r = parse_spec(row.text);
    EXPECT_EQ(r.ok(), row.ok);
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("mma"), std::string::npos) << r.error().message;
    }
  }
  auto r = parse_spec("decode:kv=bf16,hd=256,mma=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "mma=1: " + mma_rule());
}

TEST(MmaOptionTest, LaunchShapeAndSpecializer) {
  for (int gqa : {1, 3, 4, 8, 16, 64}) {
    Spec s = parsed("decode:hd=128,kv=e4m3,arch=sm_90,mma=1");
    s.gqa = gqa;
    const LaunchShape shape = launch_shape(s);
    SCOPED_TRACE(to_string(s));
    EXPECT_TRUE(shape.tensor_cores);
    EXPECT_LE(shape.heads_per_cta, 8);
    EXPECT_EQ(gqa % shape.heads_per_cta, 0);
    EXPECT_EQ(shape.unroll, 2);  // every tensor-core format up to head_dim 128 prefetches the next tile
    auto src = specialize(s);
    ASSERT_TRUE(src.ok());
    EXPECT_NE(src->source.find("#include \"kvjit/decode_mma.cuh\""), std::string::npos);
    EXPECT_NE(src->source.find("kvjit::decode_mma_body<Config>(p)"), std::string::npos);
  }
  EXPECT_EQ(launch_shape(parsed("decode:hd=256,kv=int8,gqa=4,mma=1")).unroll, 1);
  // Up to head_dim 128 every tensor-core format prefetches the next tile, f16 included.
  EXPECT_EQ(launch_shape(parsed("decode:hd=128,kv=f16,gqa=4,mma=1")).unroll, 2);
  EXPECT_EQ(launch_shape(parsed("decode:hd=64,kv=f16,gqa=4,mma=1")).unroll, 2);
  EXPECT_EQ(launch_shape(parsed("decode:hd=192,kv=e4m3,gqa=4,mma=1")).unroll, 1);
  EXPECT_TRUE(launch_shape(parsed("decode:hd=128,kv=int8,gqa=4")).tensor_cores);
  EXPECT_FALSE(launch_shape(parsed("decode:hd=128,kv=int8,gqa=4,mma=0")).tensor_cores);
  auto simt = specialize(parsed("decode:hd=128,kv=int8,gqa=4,arch=sm_90,mma=0"));
  ASSERT_TRUE(simt.ok());
  EXPECT_NE(simt->source.find("kvjit::decode_body<Config>(p)"), std::string::npos);
}

// Every format the body serves, at every head_dim class, gqa, both FP8 code paths: MMA instructions, no
// spills, and the FP8 conversion instruction only where the arch has it.
TEST(MmaOptionTest, CompilesWithoutSpills) {
  std::vector<Spec> specs;
  const int gqas[] = {1, 4, 8, 16};
  size_t i = 0;
  for (const char* kv : {"f16", "int8", "q8", "e4m3", "e5m2"})
    for (int hd : {32, 64, 128, 256})
      for (const char* arch : {"sm_80", "sm_90"}) {
        Spec s = parsed(std::string("decode:kv=") + kv + ",arch=" + arch);
        s.head_dim = hd;
        s.gqa = gqas[i++ % 4];
        s.mma = Mma::on;
        if (mma_supported(s)) specs.push_back(s);
      }
  ASSERT_EQ(specs.size(), 38u);
  std::vector<std::string> failures(specs.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::max(2u, std::thread::hardware_concurrency()); ++t)
    pool.emplace_back([&] {
      for (size_t j = next++; j < specs.size(); j = next++) {
        const Spec& s = specs[j];
        auto k = compile_spec(s);
        if (!k.ok()) {
          failures[j] = k.error().message;
          continue;
        }
        std::string why;
        if (k->resources.spill_store_bytes != 0 || k->resources.spill_load_bytes != 0) why += " spills;";
        if (k->ptx.find("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") == std::string::npos) why += " no mma;";
        const bool hw_cvt = k->ptx.find("cvt.rn.f16x2.e4m3x2") != std::string::npos;
        if (s.kv == KvDtype::e4m3 && hw_cvt != (s.arch.sm >= 89)) why += " wrong e4m3 conversion path;";
        if (!why.empty()) failures[j] = why;
      }
    });
  for (std::thread& t : pool) t.join();
  for (size_t j = 0; j < specs.size(); ++j) EXPECT_EQ(failures[j], "") << to_string(specs[j]);
}

}  // namespace
}  // namespace kvjit
