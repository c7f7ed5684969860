// The per-variant numerics self-test on the device: every format, both paged schemes and both decode bodies
// pass it, and with KVJIT_SELFTEST=1 Engine::get serves a variant only after it passes.
#include "runtime/self_test.h"

#include <fmt/format.h>

#include <cstdlib>

#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

// KVJIT_SELFTEST=1 for one scope, unset again however the scope ends (a failed ASSERT returns early).
struct SelfTestOn {
  SelfTestOn() { setenv("KVJIT_SELFTEST", "1", 1); }
  ~SelfTestOn() { unsetenv("KVJIT_SELFTEST"); }
};

TEST(GpuSelfTest, EveryFormatPasses) {
  KVJIT_REQUIRE_GPU();
  Engine engine;
  double worst = 0;
  int n = 0;
  for (KvDtype kv : {KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
    for (Paging paging : {Paging::table, Paging::csr, Paging::contig})
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
  Engine engine;
  auto kernel = [&] {
    SelfTestOn on;
    return engine.get(parse_spec("decode:hd=128,gqa=4,kv=int8,softcap=1").value_or_throw());
  }();
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  // Per-sequence caches are tested too (append and decode through per-sequence base pointers).
  Spec contig = parse_spec("decode:kv=q8,scale=f32,paging=contig").value_or_throw();
  auto got = engine.get(contig);
  ASSERT_TRUE(got.ok()) << got.error().message;
  auto verdict = run_self_test(engine, **got);
  ASSERT_TRUE(verdict.ok()) << verdict.error().message;
  EXPECT_TRUE(verdict->ran);
  EXPECT_TRUE(verdict->passed) << verdict->note;
}

// A provider keeping verdicts in a map (the module cache keeps them on disk; cache/verdict_store.h), counting
// how often the engine records one.
class VerdictMapProvider final : public ArtifactProvider {
 public:
  Result<std::shared_ptr<const Artifact>> get(const Spec& spec) override { return inner_->get(spec); }
  void evict(const Artifact& artifact) override { inner_->evict(artifact); }
  std::optional<SelfTestVerdict> find_verdict(const std::string& key, const std::string& device) override {
    auto it = verdicts.find({key, device});
    return it == verdicts.end() ? std::nullopt : std::optional<SelfTestVerdict>(it->second);
  }
  void record_verdict(const std::string& key, const std::string& device, const SelfTestVerdict& v) override {
    verdicts[{key, device}] = v;
    ++records;
  }
  std::map<std::pair<std::string, std::string>, SelfTestVerdict> verdicts;
  int records = 0;

 private:
  std::shared_ptr<ArtifactProvider> inner_ = make_memory_provider();
};

// With KVJIT_SELFTEST=1 a verdict recorded for this device is taken instead of testing again (a later process),
// a recorded failure is refused without running, and a verdict judged against another budget is retested.
TEST(GpuSelfTest, RecordedVerdictsAreReusedAndFailuresRefused) {
  KVJIT_REQUIRE_GPU();
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=q8,scale=f32").value_or_throw();
  auto provider = std::make_shared<VerdictMapProvider>();
  SelfTestOn on;
  {
    Engine first(provider);
    auto kernel = first.get(spec);
    ASSERT_TRUE(kernel.ok()) << kernel.error().message;
    ASSERT_EQ(provider->records, 1);
    ASSERT_EQ(provider->verdicts.size(), 1u);
    EXPECT_TRUE(provider->verdicts.begin()->second.passed);
    EXPECT_NE(provider->verdicts.begin()->first.second.find("sm_"), std::string::npos);  // the device's identity
    auto again = first.self_test(**kernel, /*recorded_ok=*/true);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->recorded && again->passed);
  }
  {
    Engine second(provider);
    ASSERT_TRUE(second.get(spec).ok());
    EXPECT_EQ(provider->records, 1);  // served on the recorded verdict
  }
  SelfTestVerdict& recorded = provider->verdicts.begin()->second;
  recorded.passed = false;
  recorded.note = "recorded failure";
  {
    Engine third(provider);
    auto refused = third.get(spec);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("verdict recorded in the cache"), std::string::npos)
        << refused.error().message;
    EXPECT_EQ(provider->records, 1);
  }
  recorded.budget = 0.5;  // judged under another build's budget: tested again, and it passes here
  {
    Engine fourth(provider);
    ASSERT_TRUE(fourth.get(spec).ok());
    EXPECT_EQ(provider->records, 2);
    EXPECT_TRUE(provider->verdicts.begin()->second.passed);
  }
}

}  // namespace
}  // namespace kvjit::test
