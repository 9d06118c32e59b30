// The plan of one engine step, as a backend executes it: plain host data that the scheduler builds and the kernels
// only follow (plan -> run). It can be built and checked without any backend, and it names nothing about requests.
//
// Rows are tokens. The rows of one sequence are contiguous and in increasing position order. Each row attends to
// positions [0, its position] of its own sequence, reading K/V from the paged cache after this step's rows have been
// written there — so a row computes the same bits whether it runs in a one-shot prefill, a chunk of one, a decode
// step, or beside any number of other sequences.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace verbatim {

struct StepPlan {
  struct Seq {
    int32_t first_row = 0;  // rows [first_row, first_row + n_rows)
    int32_t n_rows = 0;
    int32_t table_begin = 0;  // block ids block_table[table_begin, table_begin + n_blocks)
    int32_t n_blocks = 0;
  };

  std::vector<int32_t> tokens;       // [n_rows]
  std::vector<int32_t> positions;    // [n_rows]
  std::vector<int32_t> row_seq;      // [n_rows] index into seqs
  std::vector<Seq> seqs;             // [n_seqs]
  std::vector<int32_t> block_table;  // concatenated block ids of every sequence
  std::vector<int32_t> logit_rows;   // [n_logits] rows whose logits the step returns, ascending
  // Fed rows (async scheduling; backends where can_feed()): empty, or [n_rows] where fed[r] >= 0 makes row r's token
  // the token of result fed[r] of the backend's latest sample_async (the step before, still running), and -1 keeps
  // tokens[r]. A fed row's entry in tokens is a placeholder (0): the host does not know the token yet.
  std::vector<int32_t> fed;

  enum class Logits { None, Last, All };

  int n_rows() const { return static_cast<int>(tokens.size()); }
  int n_logits() const { return static_cast<int>(logit_rows.size()); }
  void clear();

  // Appends a sequence's chunk: `chunk` tokens at positions start_pos, start_pos+1, ...; `blocks` must cover every
  // position up to the chunk's last. Logits of none, the last or all of the chunk's rows.
  void add_seq(std::span<const int32_t> chunk, int32_t start_pos, std::span<const int32_t> blocks, Logits logits);

  // Makes row `row`'s token that of result `result` of the latest sample_async (fed above).
  void feed(int32_t row, int32_t result);
  bool has_fed() const { return !fed.empty(); }

  // Checks every index against the cache and the vocabulary; throws Error("step plan: ...") on the first violation.
  void validate(int num_blocks, int block_size, int vocab_size) const;
};

}  // namespace verbatim
