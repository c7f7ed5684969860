// The per-variant numerics self-test on the device: every format, both paged schemes and both decode bodies
// pass it, and with KVJIT_SELFTEST=1 Engine::get serves a variant only after it passes.
#include <fmt/format.h>

#include <cstdlib>

#include "runtime/self_test.h"
#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

TEST(GpuSelfTest, EveryFormatPasses) {
  KVJIT_REQUIRE_GPU();
  Engine engine;
  double worst = 0;
  int n = 0;
  for (KvDtype kv : {KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
    for (Paging paging : {Paging::table, Paging::csr})
      for (bool mma : {false, true}) {
        Spec spec;
        spec.kv = kv;
        // Pool formats take f32 scales on the csr variants.
        if (has_scale_pool(kv) && paging == Paging::csr) spec.scale = ScaleDtype::f32;
        spec.paging = paging;
        spec.gqa = n % 2 ? 4 : 8;
        spec.head_dim = n % 3 ? 128 : 64;
        spec.q = n % 4 == 3 ? QDtype::bf16 : QDtype::f16;
        spec.mma = mma ? Mma::on : Mma::off;
        if (mma && !mma_supported(spec)) continue;
        SCOPED_TRACE(to_string(spec));
        auto kernel = engine.get(spec);
        ASSERT_TRUE(kernel.ok()) << kernel.error().message;
        auto verdict = run_self_test(engine, **kernel);
        ASSERT_TRUE(verdict.ok()) << verdict.error().message;
        EXPECT_TRUE(verdict->ran);
        EXPECT_TRUE(verdict->passed) << verdict->note;
        worst = std::max(worst, verdict->rel_l2);
        ++n;
      }
  fmt::print("KVJIT_RESULT self-test variants={} worst_rel_l2={:.3g}\n", n, worst);
}

TEST(GpuSelfTest, EngineServesOnlyTestedVariants) {
  KVJIT_REQUIRE_GPU();
  setenv("KVJIT_SELFTEST", "1", 1);
  Engine engine;
  auto kernel = engine.get(parse_spec("decode:hd=128,gqa=4,kv=int8,softcap=1").value_or_throw());
  unsetenv("KVJIT_SELFTEST");
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  Spec contig = parse_spec("decode:kv=int8,paging=contig").value_or_throw();
  auto got = engine.get(contig);
  ASSERT_TRUE(got.ok());
  auto verdict = run_self_test(engine, **got);
  ASSERT_TRUE(verdict.ok());
  EXPECT_FALSE(verdict->ran);  // no self-test for per-sequence caches yet: said, not faked
  EXPECT_NE(verdict->note.find("contig"), std::string::npos);
}

}  // namespace
}  // namespace kvjit::test
