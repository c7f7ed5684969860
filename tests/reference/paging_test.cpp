// make_paging: both schemes describe the same sequences on the same shuffled physical pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

Spec with_paging(Paging paging, int page = 16) {
  Spec s;
  s.page_size = page;
  s.paging = paging;
  return s;
}

TEST(MakePaging, TableAndCsrAgree) {
  const std::vector<int> lens = {0, 1, 16, 17, 33, 5};
  const Spec table = with_paging(Paging::table), csr = with_paging(Paging::csr);
  int num_pages = -1;
  const HostPaging p = make_paging(table, lens, 42, &num_pages);
  EXPECT_EQ(num_pages, 0 + 1 + 1 + 2 + 3 + 1);
  EXPECT_EQ(p.batch, 6);
  EXPECT_EQ(p.max_blocks_per_seq, 3);
  EXPECT_EQ(p.indptr.size(), 7u);
  EXPECT_EQ(p.indptr.back(), num_pages);
  std::vector<int> seen;
  for (int b = 0; b < p.batch; ++b) {
    EXPECT_EQ(seq_len(table, p, b), lens[static_cast<size_t>(b)]) << b;
    EXPECT_EQ(seq_len(csr, p, b), lens[static_cast<size_t>(b)]) << b;
    const int pages = (lens[static_cast<size_t>(b)] + 15) / 16;
    EXPECT_EQ(p.indptr[static_cast<size_t>(b) + 1] - p.indptr[static_cast<size_t>(b)], pages);
    if (pages > 0) {
      EXPECT_GE(p.last_page_len[static_cast<size_t>(b)], 1);
      EXPECT_LE(p.last_page_len[static_cast<size_t>(b)], 16);
    }
    for (int n = 0; n < pages; ++n) {
      EXPECT_EQ(page_of(table, p, b, n), page_of(csr, p, b, n)) << b << " " << n;
      seen.push_back(page_of(table, p, b, n));
    }
    for (int n = pages; n < p.max_blocks_per_seq; ++n)
      EXPECT_EQ(p.block_table[static_cast<size_t>(b * p.max_blocks_per_seq + n)], -1);
  }
  // Distinct pages covering [0, num_pages), not handed out in order.
  std::vector<int> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < num_pages; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(seen, sorted);
}

TEST(MakePaging, DeterministicInSeed) {
  const Spec s = with_paging(Paging::csr, 4);
  const std::vector<int> lens = {9, 30, 3};
  int n1 = 0, n2 = 0, n3 = 0;
  const HostPaging a = make_paging(s, lens, 7, &n1), b = make_paging(s, lens, 7, &n2), c = make_paging(s, lens, 8, &n3);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.block_table, b.block_table);
  EXPECT_NE(a.indices, c.indices);
  EXPECT_EQ(n1, n3);
}

TEST(MakePaging, AllEmptyKeepsOneTableColumn) {
  int num_pages = -1;
  const HostPaging p = make_paging(with_paging(Paging::table), {0, 0}, 1, &num_pages);
  EXPECT_EQ(num_pages, 0);
  EXPECT_EQ(p.max_blocks_per_seq, 1);
  EXPECT_EQ(p.block_table, (std::vector<int>{-1, -1}));
  EXPECT_EQ(p.indptr, (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(p.indices.empty());
}

TEST(SlotOf, PagePlusSlot) {
  const Spec s = with_paging(Paging::table, 4);
  const HostPaging p = make_paging(s, {3, 10}, 5, nullptr);
  EXPECT_EQ(slot_of(s, p, 1, 9), static_cast<int64_t>(page_of(s, p, 1, 2)) * 4 + 1);
  EXPECT_EQ(slot_of(s, p, 0, 0), static_cast<int64_t>(page_of(s, p, 0, 0)) * 4);
}

}  // namespace
}  // namespace kvjit::ref
