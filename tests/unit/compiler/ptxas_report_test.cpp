// ptxas -v report parsing: only the lines of the requested entry count.
#include <gtest/gtest.h>

#include <string>

#include "compiler/compiled_kernel.h"

namespace kvjit {
namespace {

const std::string kSymbol = "kvjit_decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90";
const std::string kOther = "kvjit_append_hd_128_page_16_gqa_1_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90";
const std::string kThird = "kvjit_decode_hd_64_page_1_gqa_8_kv_int8_q_bf16_layout_hnd_paging_csr_arch_sm_90";

std::string entry(const std::string& symbol, const std::string& frame, const std::string& used) {
  return "ptxas info    : Compiling entry function '" + symbol + "' for 'sm_90'\n" +
         "ptxas info    : Function properties for " + symbol + "\n" + "ptxas         .     " + frame + "\n" +
         "ptxas info    : " + used + "\n";
}

TEST(PtxasReportTest, NoSpills) {
  const std::string log = "ptxas info    : 68 bytes gmem\n" +
                          entry(kSymbol, "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                                "Used 148 registers, used 1 barriers, 8320 bytes smem") +
                          "ptxas info    : Compile time = 213.131 ms\n";
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, 148);
  EXPECT_EQ(r.shared_bytes, 8320);
  EXPECT_EQ(r.stack_bytes, 0);
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);
}

TEST(PtxasReportTest, Spills) {
  const std::string log = entry(kSymbol, "64 bytes stack frame, 40 bytes spill stores, 36 bytes spill loads",
                                "Used 255 registers, used 1 barriers, 16640 bytes smem, 400 bytes cmem[0]");
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, 255);
  EXPECT_EQ(r.shared_bytes, 16640);
  EXPECT_EQ(r.stack_bytes, 64);
  EXPECT_EQ(r.spill_store_bytes, 40);
  EXPECT_EQ(r.spill_load_bytes, 36);
}

TEST(PtxasReportTest, NoSharedMemoryMeansZero) {
  const std::string log = entry(kSymbol, "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                                "Used 32 registers, 380 bytes cmem[0]");
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, 32);
  EXPECT_EQ(r.shared_bytes, 0);
}

TEST(PtxasReportTest, OtherSymbolsLinesAreIgnored) {
  const std::string log = entry(kOther, "8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads",
                                "Used 40 registers, used 0 barriers, 128 bytes smem") +
                          entry(kSymbol, "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                                "Used 96 registers, used 1 barriers, 4096 bytes smem") +
                          entry(kThird, "16 bytes stack frame, 12 bytes spill stores, 8 bytes spill loads",
                                "Used 200 registers, used 1 barriers, 1024 bytes smem");
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, 96);
  EXPECT_EQ(r.shared_bytes, 4096);
  EXPECT_EQ(r.stack_bytes, 0);
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);

  const ResourceReport other = parse_ptxas_report(log, kOther);
  EXPECT_EQ(other.registers, 40);
  EXPECT_EQ(other.spill_store_bytes, 4);
  const ResourceReport third = parse_ptxas_report(log, kThird);
  EXPECT_EQ(third.registers, 200);
  EXPECT_EQ(third.spill_load_bytes, 8);
}

TEST(PtxasReportTest, AbsentSymbolLeavesEverythingUnknown) {
  const std::string log = entry(kOther, "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                                "Used 40 registers, used 0 barriers, 128 bytes smem");
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, -1);
  EXPECT_EQ(r.shared_bytes, -1);
  EXPECT_EQ(r.stack_bytes, -1);
  EXPECT_EQ(r.spill_store_bytes, -1);
  EXPECT_EQ(r.spill_load_bytes, -1);
}

TEST(PtxasReportTest, EmptyLog) {
  const ResourceReport r = parse_ptxas_report("", kSymbol);
  EXPECT_EQ(r.registers, -1);
  EXPECT_EQ(r.spill_store_bytes, -1);
}

// kvjit symbols can be prefixes of each other (..._arch_sm_90 and ..._arch_sm_90a); a log holding both
// must still attribute each report to its own entry, whichever comes first.
TEST(PtxasReportTest, SymbolThatIsAPrefixOfAnother) {
  const std::string short_entry = entry(kSymbol, "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                                        "Used 96 registers, used 1 barriers, 4096 bytes smem");
  const std::string long_entry =
      entry(kSymbol + "a", "24 bytes stack frame, 20 bytes spill stores, 16 bytes spill loads",
            "Used 168 registers, used 1 barriers, 8192 bytes smem");
  for (const std::string& log : {short_entry + long_entry, long_entry + short_entry}) {
    const ResourceReport r = parse_ptxas_report(log, kSymbol);
    EXPECT_EQ(r.registers, 96);
    EXPECT_EQ(r.shared_bytes, 4096);
    EXPECT_EQ(r.spill_store_bytes, 0);
    const ResourceReport a = parse_ptxas_report(log, kSymbol + "a");
    EXPECT_EQ(a.registers, 168);
    EXPECT_EQ(a.shared_bytes, 8192);
    EXPECT_EQ(a.spill_store_bytes, 20);
  }
}

// A symbol that is a prefix of the only entry in the log is absent, not a match.
TEST(PtxasReportTest, PrefixOfTheOnlyEntryIsAbsent) {
  const std::string log = entry(kSymbol + "a", "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                                "Used 168 registers, used 1 barriers, 8192 bytes smem");
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, -1);
  EXPECT_EQ(r.spill_store_bytes, -1);
}

// Trailing whitespace (and a CR from a CRLF log) after the name on the properties line still matches.
TEST(PtxasReportTest, TrailingWhitespaceAfterTheName) {
  const std::string log = "ptxas info    : Compiling entry function '" + kSymbol + "' for 'sm_90'\r\n" +
                          "ptxas info    : Function properties for " + kSymbol + " \t\r\n" +
                          "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\r\n" +
                          "ptxas info    : Used 64 registers, used 1 barriers, 2048 bytes smem\r\n";
  const ResourceReport r = parse_ptxas_report(log, kSymbol);
  EXPECT_EQ(r.registers, 64);
  EXPECT_EQ(r.shared_bytes, 2048);
  EXPECT_EQ(r.stack_bytes, 8);
  EXPECT_EQ(r.spill_store_bytes, 4);
}

}  // namespace
}  // namespace kvjit
