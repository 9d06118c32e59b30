#include "backend/plan.h"

#include <string>

#include "util/error.h"

namespace verbatim {

void StepPlan::clear() {
  tokens.clear();
  positions.clear();
  row_seq.clear();
  seqs.clear();
  block_table.clear();
  logit_rows.clear();
  fed.clear();
}

void StepPlan::feed(int32_t row, int32_t result) {
  if (row < 0 || row >= n_rows()) fail("step plan", "fed row " + std::to_string(row) + " out of range");
  if (result < 0) fail("step plan", "fed row " + std::to_string(row) + " names result " + std::to_string(result));
  fed.resize(tokens.size(), -1);
  fed[static_cast<size_t>(row)] = result;
}

void StepPlan::add_seq(std::span<const int32_t> chunk, int32_t start_pos, std::span<const int32_t> blocks,
                       Logits logits) {
  Seq s;
  s.first_row = n_rows();
  s.n_rows = static_cast<int32_t>(chunk.size());
  s.table_begin = static_cast<int32_t>(block_table.size());
  s.n_blocks = static_cast<int32_t>(blocks.size());
  const int32_t seq_index = static_cast<int32_t>(seqs.size());
  for (size_t i = 0; i < chunk.size(); ++i) {
    tokens.push_back(chunk[i]);
    positions.push_back(start_pos + static_cast<int32_t>(i));
    row_seq.push_back(seq_index);
    if (logits == Logits::All || (logits == Logits::Last && i + 1 == chunk.size()))
      logit_rows.push_back(s.first_row + static_cast<int32_t>(i));
  }
  block_table.insert(block_table.end(), blocks.begin(), blocks.end());
  seqs.push_back(s);
  if (!fed.empty()) fed.resize(tokens.size(), -1);
}

void StepPlan::validate(int num_blocks, int block_size, int vocab_size) const {
  auto bad = [](const std::string& what) { fail("step plan", what); };
  const int n = n_rows();
  if (positions.size() != tokens.size() || row_seq.size() != tokens.size()) bad("row arrays differ in length");
  if (!fed.empty() && fed.size() != tokens.size()) bad("fed rows differ in length from the rows");
  for (size_t r = 0; r < fed.size(); ++r)
    if (fed[r] < -1) bad("row " + std::to_string(r) + " fed from result " + std::to_string(fed[r]));
  int32_t expect_row = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const Seq& s = seqs[si];
    if (s.first_row != expect_row || s.n_rows <= 0 || s.first_row + s.n_rows > n)
      bad("sequence " + std::to_string(si) + " rows are not contiguous");
    if (s.table_begin < 0 || s.n_blocks < 0 || static_cast<size_t>(s.table_begin) + s.n_blocks > block_table.size())
      bad("sequence " + std::to_string(si) + " block table out of range");
    for (int32_t r = s.first_row; r < s.first_row + s.n_rows; ++r) {
      if (row_seq[r] != static_cast<int32_t>(si)) bad("row " + std::to_string(r) + " names the wrong sequence");
      if (tokens[r] < 0 || tokens[r] >= vocab_size) bad("row " + std::to_string(r) + " token out of range");
      if (positions[r] < 0 || (r > s.first_row && positions[r] != positions[r - 1] + 1))
        bad("row " + std::to_string(r) + " position out of order");
      if (positions[r] / block_size >= s.n_blocks) bad("row " + std::to_string(r) + " position has no block");
    }
    for (int32_t b = 0; b < s.n_blocks; ++b) {
      const int32_t id = block_table[s.table_begin + b];
      if (id < 0 || id >= num_blocks) bad("block id " + std::to_string(id) + " out of range");
    }
    expect_row = s.first_row + s.n_rows;
  }
  if (expect_row != n) bad("rows not covered by sequences");
  for (size_t i = 0; i < logit_rows.size(); ++i)
    if (logit_rows[i] < 0 || logit_rows[i] >= n || (i > 0 && logit_rows[i] <= logit_rows[i - 1]))
      bad("logit rows out of range or not ascending");
}

}  // namespace verbatim
