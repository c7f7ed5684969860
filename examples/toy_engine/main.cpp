// kvjit_toy_engine: what a host engine does with kvjit, end to end, on a toy model (toy_model.h).
//
//   4 layers, 8 KV heads, GQA 4 (32 query heads), head_dim 128; a paged int8 KV cache (page 16, one f16 scale
//   per token and head, vLLM's block-table paging) per layer.
//   prefill: append each sequence's prompt K/V to every layer's cache.
//   decode loop, one token per sequence per step: look up the new token's q/k/v (host), upload them, then
//   for each layer append its K/V and run decode over the whole context. The attention part of a step is
//   captured once in a CUDA graph and replayed every step (sequence lengths and slots are read from device
//   buffers, so one graph serves all steps); the next token is chosen on the host from the last layer.
//
// Checks that a graph replay gives the same bytes as the same step launched eagerly, then prints tokens/s and
// the share of the step spent in attention. Without a GPU it prints "no GPU: ..." and exits 0.
//
//   kvjit_toy_engine [--batch N] [--prompt N] [--steps N] [--splits N]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.h"
#include "runtime/device.h"
#include "runtime/engine.h"
#include "toy_model.h"

namespace toy {
namespace {

// Steps that are run both eagerly and from the graph, and compared, before the timed steps.
constexpr int kChecked = 3;

struct Options {
  int batch = 8;
  int prompt = 1000;
  int steps = 64;
  int splits = 0;  // > 0: split-KV decode with exactly this many partitions (a fixed grid, graph-safe)
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](int* out) {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      *out = std::atoi(argv[++i]);
      if (*out < 0) throw std::runtime_error(arg + " must not be negative");
    };
    if (arg == "--batch")
      value(&o.batch);
    else if (arg == "--prompt")
      value(&o.prompt);
    else if (arg == "--steps")
      value(&o.steps);
    else if (arg == "--splits")
      value(&o.splits);
    else
      throw std::runtime_error("unknown option " + arg + " (--batch, --prompt, --steps, --splits)");
  }
  if (o.batch < 1 || o.prompt < 1 || o.steps < 1) throw std::runtime_error("batch, prompt and steps must be >= 1");
  return o;
}

template <typename T>
T unwrap(kvjit::Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}
void unwrap(const kvjit::Status& s) {
  if (!s) throw std::runtime_error(s.error().message);
}

// One layer's paged int8 cache: K and V rows plus one f16 scale per row, [pages, page, kv_heads, (head_dim)].
struct LayerCache {
  DeviceBuffer k, v, k_scales, v_scales;
  LayerCache(size_t pages, const kvjit::Spec& spec, int kv_heads)
      : k(pages * spec.page_size * kv_heads * spec.head_dim),
        v(k.bytes()),
        k_scales(pages * spec.page_size * kv_heads * 2),
        v_scales(k_scales.bytes()) {}
};

// Everything a step reads, at fixed device addresses (what makes one captured graph valid for every step).
struct StepBuffers {
  DeviceBuffer q, k_new, v_new, out, slots, seq_lens, block_table, workspace;
};

class ToyEngine {
 public:
  ToyEngine(const Options& o, const ToyModel& model) : o_(o), model_(model), shape_(model.shape()) {
    decode_spec_ = unwrap(kvjit::parse_spec(
        fmt::format("decode:hd={},page=16,gqa={},kv=int8,q=f16,layout=nhd,paging=table", shape_.head_dim, shape_.gqa)));
    append_spec_ = decode_spec_;
    append_spec_.kind = kvjit::Kind::append;
    decode_ = unwrap(engine_.get(decode_spec_));
    append_ = unwrap(engine_.get(append_spec_));
    check(cu()->cuStreamCreate_(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");

    // Each sequence owns enough pages for its whole run; physical pages are shuffled, as an allocator would.
    const int capacity = o.prompt + std::max(o.steps, kChecked);
    blocks_per_seq_ = (capacity + decode_spec_.page_size - 1) / decode_spec_.page_size;
    std::vector<int32_t> pages(static_cast<size_t>(o.batch) * blocks_per_seq_);
    std::iota(pages.begin(), pages.end(), 0);
    std::shuffle(pages.begin(), pages.end(), std::mt19937(11));
    block_table_ = pages;
    for (int l = 0; l < shape_.layers; ++l) layers_.emplace_back(pages.size(), decode_spec_, shape_.kv_heads);

    const size_t b = static_cast<size_t>(o.batch);
    buf_.q = DeviceBuffer(static_cast<size_t>(shape_.layers) * b * shape_.q_size() * 2);
    buf_.k_new = DeviceBuffer(static_cast<size_t>(shape_.layers) * b * shape_.kv_size() * 2);
    buf_.v_new = DeviceBuffer(buf_.k_new.bytes());
    buf_.out = DeviceBuffer(buf_.q.bytes());
    buf_.slots = DeviceBuffer(b * sizeof(int64_t));
    buf_.seq_lens = DeviceBuffer(b * sizeof(int32_t));
    buf_.block_table = DeviceBuffer(block_table_.size() * sizeof(int32_t));
    buf_.block_table.upload(block_table_);
    if (o.splits > 0) {
      buf_.workspace = DeviceBuffer(decode_->decode_workspace_bytes(o.batch, shape_.kv_heads));
      buf_.workspace.zero();  // once, after allocation (the kernels leave it zeroed)
    }
    seq_lens_.assign(b, 0);
    tokens_.resize(b);
    for (size_t i = 0; i < b; ++i) tokens_[i] = static_cast<int>(i % shape_.vocab);
  }

  ~ToyEngine() {
    if (exec_) cu()->cuGraphExecDestroy_(exec_);
    if (graph_) cu()->cuGraphDestroy_(graph_);
    if (stream_) cu()->cuStreamDestroy_(stream_);
  }

  // Appends each sequence's prompt (random tokens) to every layer, eagerly.
  void prefill() {
    std::mt19937 rng(5);
    const int n = o_.batch * o_.prompt;
    std::vector<int64_t> slots(static_cast<size_t>(n));
    std::vector<int> tokens(static_cast<size_t>(n));
    for (int b = 0; b < o_.batch; ++b)
      for (int t = 0; t < o_.prompt; ++t) {
        slots[static_cast<size_t>(b) * o_.prompt + t] = slot(b, t);
        tokens[static_cast<size_t>(b) * o_.prompt + t] = static_cast<int>(rng() % shape_.vocab);
      }
    DeviceBuffer slots_d(slots.size() * sizeof(int64_t)), k(static_cast<size_t>(n) * shape_.kv_size() * 2),
        v(k.bytes());
    slots_d.upload(slots);
    for (int l = 0; l < shape_.layers; ++l) {
      k.upload(gather_kv(l, tokens, true));
      v.upload(gather_kv(l, tokens, false));
      kvjit::AppendArgs a = append_args(l, k.get(), v.get(), slots_d.as<int64_t>(), n);
      unwrap(append_->append(stream_, a));
      check(cu()->cuStreamSynchronize_(stream_), "prefill");
    }
    std::fill(seq_lens_.begin(), seq_lens_.end(), o_.prompt);
  }

  // Uploads the step's inputs: the new tokens' q/k/v for every layer, their slots and the new lengths.
  void stage_step() {
    std::vector<int64_t> slots(static_cast<size_t>(o_.batch));
    for (int b = 0; b < o_.batch; ++b) slots[static_cast<size_t>(b)] = slot(b, seq_lens_[static_cast<size_t>(b)]);
    std::vector<int32_t> lens = seq_lens_;
    for (int32_t& len : lens) ++len;  // decode attends to the new token too
    std::vector<uint16_t> q, k, v;
    for (int l = 0; l < shape_.layers; ++l)
      for (int b = 0; b < o_.batch; ++b) {
        const int t = tokens_[static_cast<size_t>(b)];
        q.insert(q.end(), model_.q(l, t), model_.q(l, t) + shape_.q_size());
        k.insert(k.end(), model_.k(l, t), model_.k(l, t) + shape_.kv_size());
        v.insert(v.end(), model_.v(l, t), model_.v(l, t) + shape_.kv_size());
      }
    buf_.q.upload(q);
    buf_.k_new.upload(k);
    buf_.v_new.upload(v);
    buf_.slots.upload(slots);
    buf_.seq_lens.upload(lens);
    // The copies above run on the legacy stream from pageable memory; the step's stream must see them.
    check(cu()->cuCtxSynchronize_(), "cuCtxSynchronize");
  }

  // The attention of one step, launched on the stream: append then decode, layer by layer.
  void launch_attention() {
    const size_t b = static_cast<size_t>(o_.batch);
    for (int l = 0; l < shape_.layers; ++l) {
      const size_t kv_offset = static_cast<size_t>(l) * b * shape_.kv_size() * 2;
      kvjit::AppendArgs a = append_args(l, buf_.k_new.as<char>() + kv_offset, buf_.v_new.as<char>() + kv_offset,
                                        buf_.slots.as<int64_t>(), o_.batch);
      unwrap(append_->append(stream_, a));
      const size_t q_offset = static_cast<size_t>(l) * b * shape_.q_size() * 2;
      kvjit::DecodeArgs d;
      d.q = buf_.q.as<char>() + q_offset;
      d.o = buf_.out.as<char>() + q_offset;
      d.k_cache = layers_[static_cast<size_t>(l)].k.get();
      d.v_cache = layers_[static_cast<size_t>(l)].v.get();
      d.k_scales = layers_[static_cast<size_t>(l)].k_scales.get();
      d.v_scales = layers_[static_cast<size_t>(l)].v_scales.get();
      d.batch = o_.batch;
      d.num_kv_heads = shape_.kv_heads;
      d.block_table = buf_.block_table.as<int32_t>();
      d.seq_lens = buf_.seq_lens.as<int32_t>();
      d.max_blocks_per_seq = blocks_per_seq_;
      d.sm_scale = 1.0f / std::sqrt(static_cast<float>(shape_.head_dim));
      d.expected_spec = &decode_spec_;
      if (o_.splits > 0) {
        d.workspace = buf_.workspace.get();
        d.workspace_bytes = buf_.workspace.bytes();
        d.num_splits = o_.splits;
      }
      unwrap(decode_->decode(stream_, d));
    }
  }

  void capture() {
    check(cu()->cuStreamBeginCapture_(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
    launch_attention();
    check(cu()->cuStreamEndCapture_(stream_, &graph_), "cuStreamEndCapture");
    check(cu()->cuGraphInstantiate_(&exec_, graph_, 0), "cuGraphInstantiate");
  }

  // Runs the staged step (graph replay or eager launches) and returns the attention output of every layer.
  // With events, records them around the launches.
  std::vector<uint16_t> run_staged(bool graph, CUevent start = nullptr, CUevent stop = nullptr) {
    if (start) check(cu()->cuEventRecord_(start, stream_), "cuEventRecord");
    if (graph)
      check(cu()->cuGraphLaunch_(exec_, stream_), "cuGraphLaunch");
    else
      launch_attention();
    if (stop) check(cu()->cuEventRecord_(stop, stream_), "cuEventRecord");
    check(cu()->cuStreamSynchronize_(stream_), "cuStreamSynchronize");
    return buf_.out.download<uint16_t>();
  }

  // Takes the step's output: advances the lengths and picks each sequence's next token.
  void finish_step(const std::vector<uint16_t>& out) {
    const size_t last = static_cast<size_t>(shape_.layers - 1) * o_.batch * shape_.q_size();
    for (int b = 0; b < o_.batch; ++b) {
      ++seq_lens_[static_cast<size_t>(b)];
      tokens_[static_cast<size_t>(b)] = model_.next_token(&out[last + static_cast<size_t>(b) * shape_.q_size()]);
    }
  }

  const std::vector<int>& tokens() const { return tokens_; }

 private:
  int64_t slot(int seq, int position) const {
    const int page = block_table_[static_cast<size_t>(seq) * blocks_per_seq_ + position / decode_spec_.page_size];
    return static_cast<int64_t>(page) * decode_spec_.page_size + position % decode_spec_.page_size;
  }

  std::vector<uint16_t> gather_kv(int layer, const std::vector<int>& tokens, bool key) const {
    std::vector<uint16_t> out;
    out.reserve(tokens.size() * shape_.kv_size());
    for (int t : tokens) {
      const uint16_t* row = key ? model_.k(layer, t) : model_.v(layer, t);
      out.insert(out.end(), row, row + shape_.kv_size());
    }
    return out;
  }

  kvjit::AppendArgs append_args(int layer, const void* k, const void* v, const int64_t* slots, int n) {
    kvjit::AppendArgs a;
    a.k = k;
    a.v = v;
    a.k_cache = layers_[static_cast<size_t>(layer)].k.get();
    a.v_cache = layers_[static_cast<size_t>(layer)].v.get();
    a.k_scales = layers_[static_cast<size_t>(layer)].k_scales.get();
    a.v_scales = layers_[static_cast<size_t>(layer)].v_scales.get();
    a.slot_mapping = slots;
    a.num_tokens = n;
    a.num_kv_heads = shape_.kv_heads;
    a.expected_spec = &append_spec_;
    return a;
  }

  Options o_;
  const ToyModel& model_;
  ModelShape shape_;
  kvjit::Engine engine_;
  kvjit::Spec decode_spec_, append_spec_;
  std::shared_ptr<const kvjit::Kernel> decode_, append_;
  CUstream stream_ = nullptr;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
  int blocks_per_seq_ = 0;
  std::vector<int32_t> block_table_;
  std::vector<LayerCache> layers_;
  StepBuffers buf_;
  std::vector<int32_t> seq_lens_;
  std::vector<int> tokens_;
};

int run(const Options& o) {
  auto device = kvjit::current_device_context();
  if (!device) {
    fmt::print("no GPU: {}\n", device.error().message);
    return 0;
  }
  char name[256] = {};
  cu()->cuDeviceGetName_(name, sizeof(name), device->device);
  const ModelShape shape;
  fmt::print("device: {} ({}), model: {} layers, {} kv heads x gqa {}, head_dim {}, int8 paged KV\n", name,
             kvjit::to_string(device->arch), shape.layers, shape.kv_heads, shape.gqa, shape.head_dim);
  const ToyModel model(shape, 1234);
  ToyEngine engine(o, model);
  engine.prefill();
  engine.capture();

  // Graph replay against eager launches of the same step: appending the same token to the same slot twice
  // writes the same bytes, so both see the same cache.
  for (int i = 0; i < kChecked; ++i) {
    engine.stage_step();
    const std::vector<uint16_t> eager = engine.run_staged(false);
    const std::vector<uint16_t> replay = engine.run_staged(true);
    if (eager != replay) {
      fmt::print("graph replay != eager at step {}: FAILED\n", i);
      return 1;
    }
    if (std::any_of(eager.begin(), eager.end(), [](uint16_t h) { return (h & 0x7c00u) == 0x7c00u; })) {
      fmt::print("non-finite attention output at step {}: FAILED\n", i);
      return 1;
    }
    engine.finish_step(eager);
  }
  fmt::print("graph replay == eager launches: OK ({} steps checked)\n", kChecked);

  CUevent start = nullptr, stop = nullptr;
  check(cu()->cuEventCreate_(&start, CU_EVENT_DEFAULT), "cuEventCreate");
  check(cu()->cuEventCreate_(&stop, CU_EVENT_DEFAULT), "cuEventCreate");
  double attention_ms = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int step = 0; step < o.steps - kChecked; ++step) {
    engine.stage_step();
    const std::vector<uint16_t> out = engine.run_staged(true, start, stop);
    float ms = 0.0f;
    check(cu()->cuEventElapsedTime_(&ms, start, stop), "cuEventElapsedTime");
    attention_ms += ms;
    engine.finish_step(out);
  }
  const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  cu()->cuEventDestroy_(start);
  cu()->cuEventDestroy_(stop);
  const int timed = o.steps - kChecked;
  if (timed > 0) {
    fmt::print("{} steps x batch {} (context {} -> {}): {:.0f} tokens/s, {:.3f} ms/step\n", timed, o.batch,
               o.prompt + kChecked, o.prompt + o.steps, 1000.0 * timed * o.batch / total_ms, total_ms / timed);
    fmt::print(
        "attention (graph of {} appends + {} decodes): {:.3f} ms/step, {:.1f}% of the step (the rest is the "
        "host-side toy model and its uploads)\n",
        shape.layers, shape.layers, attention_ms / timed, 100.0 * attention_ms / total_ms);
  }
  fmt::print("next tokens:");
  for (int t : engine.tokens()) fmt::print(" {}", t);
  fmt::print("\n");
  return 0;
}

}  // namespace
}  // namespace toy

int main(int argc, char** argv) {
  try {
    return toy::run(toy::parse_options(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "kvjit_toy_engine: {}\n", e.what());
    return 1;
  }
}
