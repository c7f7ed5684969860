// Without a driver (KVJIT_LIBCUDA points nowhere, as on a machine with no GPU), the launch side fails with
// one clear error and nothing crashes. CTest runs this binary with that variable set.
#include <gtest/gtest.h>

#include <memory>

#include "runtime/engine.h"

namespace kvjit {
namespace {

TEST(NoDriver, DriverReportsWhatIsMissing) {
  auto api = driver();
  ASSERT_FALSE(api.ok());
  EXPECT_EQ(api.error().kind, ErrorKind::driver);
  EXPECT_EQ(api.error().message.rfind("no CUDA driver found: ", 0), 0u) << api.error().message;
}

TEST(NoDriver, EngineGetFailsCleanly) {
  Engine engine;
  auto kernel = engine.get(Spec{});
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().kind, ErrorKind::driver);
  EXPECT_NE(kernel.error().message.find("no CUDA driver found"), std::string::npos);
}

TEST(NoDriver, InvalidSpecIsReportedBeforeTheDriver) {
  Engine engine;
  Spec bad;
  bad.head_dim = 100;
  auto kernel = engine.get(bad);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().kind, ErrorKind::invalid_spec);
}

TEST(NoDriver, EnginesHaveDistinctIds) {
  auto first = std::make_unique<Engine>();
  const uint64_t first_id = first->id();
  first.reset();
  Engine second, third;
  EXPECT_NE(second.id(), third.id());
  EXPECT_NE(second.id(), first_id) << "an id is not reused after its engine is gone";
  EXPECT_NE(third.id(), first_id);
}

TEST(NoDriver, PrefetchStillCompiles) {
  // Compiling needs no driver: prefetch of a concrete-arch spec works and get() then fails on the driver only.
  Engine engine;
  Spec spec;
  spec.arch = Arch{90, false};
  engine.prefetch({spec});
  engine.wait_prefetch();
  auto kernel = engine.get(spec);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().kind, ErrorKind::driver);
}

}  // namespace
}  // namespace kvjit
