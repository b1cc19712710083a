// AMX tiles and AVX-512 VNNI for low-rank scoring, with their run-time checks.
#include "core/kernels_x86.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "core/half.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define EDLAE_HAVE_AMX_CODE 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#define EDLAE_HAVE_AMX_CODE 0
#endif

namespace edlae {
namespace {

#if EDLAE_HAVE_AMX_CODE
uint64_t ReadXcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

// Linux (≥ 5.16) keeps tile data disabled for a process until it asks; the
// grant covers every thread of the process.
bool RequestTileDataPermission() {
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif

X86MatrixFeatures Detect() {
  X86MatrixFeatures f;
#if EDLAE_HAVE_AMX_CODE
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(1, 0, a, b, c, d);
  if ((c & (1u << 27)) == 0) return f;  // no OSXSAVE: XGETBV unusable
  const uint64_t xcr0 = ReadXcr0();
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned max_subleaf = a;
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;  // XMM, YMM, opmask, ZMM
  f.avx512 = os_avx512 && (b & (1u << 16)) != 0 && (b & (1u << 30)) != 0 &&
             (b & (1u << 31)) != 0;
  f.avx512_vnni = f.avx512 && (c & (1u << 11)) != 0;
  const bool tile = (d & (1u << 24)) != 0;
  const bool bf16 = (d & (1u << 22)) != 0;
  const bool int8 = (d & (1u << 25)) != 0;
  if (max_subleaf >= 1) {
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    f.avx_vnni = (xcr0 & 0x6) == 0x6 && (a1 & (1u << 4)) != 0;
  }
  constexpr uint64_t kTileState = (1ull << 17) | (1ull << 18);
  if (tile && f.avx512 && (xcr0 & kTileState) == kTileState &&
      RequestTileDataPermission()) {
    f.amx_tile = true;
    f.amx_bf16 = bf16;
    f.amx_int8 = int8;
  }
#endif
  return f;
}

// 64-byte-aligned storage for vectors loaded with aligned loads.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(
        ::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{64}); }
  bool operator==(const AlignedAllocator&) const { return true; }
};

// −1: the best available path; otherwise an X86MatrixPath value.
std::atomic<int> g_forced_path{-1};

X86MatrixPath BestPath() {
  const X86MatrixFeatures& f = DetectX86MatrixFeatures();
  return f.amx_tile      ? X86MatrixPath::kAmx
         : f.avx512_vnni ? X86MatrixPath::kVnni
                         : X86MatrixPath::kNone;
}

#if EDLAE_HAVE_AMX_CODE

// Tile geometry: 16 rows of 64 bytes per tile. An A tile holds 16 rows of V
// (items), one 64-byte chunk of each (32 bf16 or 64 int8 elements); a B tile
// holds the same chunk of 16 users' z, packed so that row r carries word r
// (a bf16 pair or an int8 quad) of every user; a C tile is 16 items × 16
// users of float32 or int32. Registers: tmm0–3 accumulate C for item tile a
// and user tile b in tmm(2a + b), tmm4–5 hold A, tmm6–7 hold B.
constexpr size_t kTileRows = 16;
constexpr size_t kChunkBytes = 64;
constexpr size_t kTileBytes = kTileRows * kChunkBytes;
constexpr size_t kTileWords = kTileBytes / 4;

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "the ldtilecfg layout");

constexpr TileConfig MakeTileConfig() {
  TileConfig config{};
  config.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = kChunkBytes;
    config.rows[t] = kTileRows;
  }
  return config;
}
// A constant in memory: GCC's _tile_loadconfig names only the first 8 bytes
// as its operand, so a stack copy's other fields could be optimised away.
constexpr TileConfig kTileConfig = MakeTileConfig();

__attribute__((target("amx-tile"))) void ConfigureTiles() {
  _tile_loadconfig(&kTileConfig);
}

__attribute__((target("amx-tile"))) void ReleaseTiles() { _tile_release(); }

// The tile intrinsics are inline assembly without memory operands: keep the
// compiler from moving the packing stores after a tile load, or the epilogue
// loads before a tile store.
inline void CompilerBarrier() { __asm__ volatile("" ::: "memory"); }

// Where one A tile's rows come from: chunks [0, full_chunks) at base (row r
// at base + r·stride), the partial last chunk (if any) at tail.
struct RowTile {
  const uint8_t* base = nullptr;
  size_t stride = 0;
  const uint8_t* tail = nullptr;
  size_t tail_stride = 0;
};

// Permutation indices of the 16 × 16 transpose in four exchange stages: at
// stage s (half-width h = 8 >> s) rows i and i + h (i & h == 0) swap their
// off-diagonal h × h blocks. lo[s] builds row i, hi[s] row i + h, from
// permutex2var(row i, ·, row i + h) (indices ≥ 16 pick from row i + h).
struct TransposeIndices {
  int32_t lo[4][16];
  int32_t hi[4][16];
};
constexpr TransposeIndices MakeTransposeIndices() {
  TransposeIndices t{};
  for (int s = 0; s < 4; ++s) {
    const int h = 8 >> s;
    for (int l = 0; l < 16; ++l) {
      t.lo[s][l] = (l & h) ? 16 + (l - h) : l;
      t.hi[s][l] = (l & h) ? 16 + l : l + h;
    }
  }
  return t;
}
alignas(64) constexpr TransposeIndices kTranspose = MakeTransposeIndices();

// The first n ≤ 16 lanes, for masked stores of a partial vector.
inline __mmask16 FirstLanes16(size_t n) {
  return n >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << n) - 1);
}

// Row-major 16 × 16 dwords in r, transposed in place.
__attribute__((target("avx512f"))) inline void Transpose16x16(__m512i* r) {
  for (int s = 0; s < 4; ++s) {
    const int h = 8 >> s;
    const __m512i lo = _mm512_load_si512(kTranspose.lo[s]);
    const __m512i hi = _mm512_load_si512(kTranspose.hi[s]);
    for (int i = 0; i < 16; ++i) {
      if (i & h) continue;
      const __m512i x = r[i];
      const __m512i y = r[i + h];
      r[i] = _mm512_permutex2var_epi32(x, lo, y);
      r[i + h] = _mm512_permutex2var_epi32(x, hi, y);
    }
  }
}

// out[u·out_stride + i] = c[i·16 + u] for u < users, i < items: one C tile
// (rows = items) written as the users' rows of scores.
__attribute__((target("avx512f"))) void StoreTransposed(const uint32_t* c,
                                                        size_t items,
                                                        size_t users,
                                                        uint32_t* out,
                                                        size_t out_stride) {
  __m512i r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_load_si512(c + 16 * i);
  Transpose16x16(r);
  const __mmask16 mask = FirstLanes16(items);
  for (size_t u = 0; u < users; ++u) {
    _mm512_mask_storeu_epi32(out + u * out_stride, mask, r[u]);
  }
}

// As StoreTransposed for int32 C, each written as a dequantized float:
// out[u·out_stride + i] = float(c[i·16 + u]) · (user_scales[u] ·
// row_scales[i]) — the same two roundings as the scalar loop it replaces.
__attribute__((target("avx512f"))) void StoreTransposedScaled(
    const uint32_t* c, size_t items, size_t users, const float* row_scales,
    const float* user_scales, float* out, size_t out_stride) {
  __m512i r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_load_si512(c + 16 * i);
  Transpose16x16(r);
  const __mmask16 mask = FirstLanes16(items);
  const __m512 rows = _mm512_maskz_loadu_ps(mask, row_scales);
  for (size_t u = 0; u < users; ++u) {
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(user_scales[u]), rows);
    _mm512_mask_storeu_ps(out + u * out_stride, mask,
                          _mm512_mul_ps(_mm512_cvtepi32_ps(r[u]), scale));
  }
}

// out[b·out_stride + j] (int32 dots of `count` items for `batch` users)
// rewritten in place as floats, dequantized as StoreTransposedScaled does.
__attribute__((target("avx512f"))) void ScaleDotsInPlace(
    void* out, size_t out_stride, size_t count, size_t batch,
    const float* row_scales, const float* user_scales) {
  for (size_t b = 0; b < batch; ++b) {
    auto* row = static_cast<uint8_t*>(out) + b * out_stride * 4;
    const __m512 user = _mm512_set1_ps(user_scales[b]);
    for (size_t j = 0; j < count; j += 16) {
      const __mmask16 mask = FirstLanes16(count - j);
      const __m512i dots = _mm512_maskz_loadu_epi32(mask, row + j * 4);
      const __m512 scale =
          _mm512_mul_ps(user, _mm512_maskz_loadu_ps(mask, row_scales + j));
      _mm512_mask_storeu_ps(row + j * 4, mask,
                            _mm512_mul_ps(_mm512_cvtepi32_ps(dots), scale));
    }
  }
}

// One C tile waiting for its epilogue: written as the users' rows of scores
// (StoreTransposed), dequantized when row_scales is set
// (StoreTransposedScaled).
struct TileEpilogue {
  const uint32_t* c;
  size_t items;
  size_t users;
  uint32_t* out;
  const float* row_scales;   // items; null: int32 or float C stored as is
  const float* user_scales;  // users, when row_scales is set
};

// The epilogues of one C block (at most four tiles), run in order.
class EpilogueQueue {
 public:
  explicit EpilogueQueue(size_t out_stride) : out_stride_(out_stride) {}
  void Add(const TileEpilogue& tile) { tiles_[size_++] = tile; }
  // Runs the next waiting epilogue, if any.
  __attribute__((target("avx512f"))) inline void RunNext() {
    if (next_ == size_) return;
    const TileEpilogue& t = tiles_[next_++];
    if (t.row_scales != nullptr) {
      StoreTransposedScaled(t.c, t.items, t.users, t.row_scales, t.user_scales,
                            reinterpret_cast<float*>(t.out), out_stride_);
    } else {
      StoreTransposed(t.c, t.items, t.users, t.out, out_stride_);
    }
  }
  // Runs every waiting epilogue and empties the queue.
  __attribute__((target("avx512f"))) inline void RunAll() {
    while (next_ < size_) RunNext();
    next_ = size_ = 0;
  }

 private:
  size_t out_stride_;
  TileEpilogue tiles_[4];
  int size_ = 0;
  int next_ = 0;
};

// Rows to bring into L1 while a C block multiplies: the next item tiles'
// rows, so that their tile loads do not wait on L2 or memory (6 % of the
// loop measured). Spread evenly over the block's chunks.
struct RowPrefetch {
  const uint8_t* rows = nullptr;
  size_t stride = 0;     // bytes between rows
  size_t count = 0;      // rows
  size_t row_bytes = 0;  // bytes of each row to fetch

  void ForChunk(size_t kc, size_t chunks) const {
    const size_t end = (kc + 1) * count / chunks;
    for (size_t r = kc * count / chunks; r < end; ++r) {
      const char* row = reinterpret_cast<const char*>(rows + r * stride);
      for (size_t off = 0; off < row_bytes; off += kChunkBytes) {
        _mm_prefetch(row + off, _MM_HINT_T0);
      }
    }
  }
};

#define EDLAE_TILE_DP(c, a, b) \
  do {                         \
    if constexpr (kInt8) {     \
      _tile_dpbssd(c, a, b);   \
    } else {                   \
      _tile_dpbf16ps(c, a, b); \
    }                          \
  } while (0)

// One C block of kA item tiles × kB user tiles over every chunk, stored to
// c (tile t = 2a + b at c + t·kTileWords, row = item, column = user). The
// chunks run in ascending order for every C element whatever kA and kB are.
// The previous block's epilogues (`pending`, reading another c) run one per
// chunk between the tile instructions, so the vector units write those
// scores while the tile unit loads and multiplies: tile loads bound this
// loop, and run after the block the epilogue added ≈ 15 % to it. All of
// `pending` has run when this returns. `prefetch`'s rows are fetched into
// L1 along the way.
template <bool kInt8, int kA, int kB>
__attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f"))) void
MultiplyTiles(const RowTile* a, size_t full_chunks, bool has_tail,
              const uint8_t* b, size_t panel_bytes, uint32_t* c,
              EpilogueQueue& pending, const RowPrefetch& prefetch) {
  const uint8_t* b0 = b;
  const uint8_t* b1 = b + panel_bytes;
  CompilerBarrier();
  _tile_zero(0);
  if constexpr (kB > 1) _tile_zero(1);
  if constexpr (kA > 1) _tile_zero(2);
  if constexpr (kA > 1 && kB > 1) _tile_zero(3);
  const size_t chunks = full_chunks + (has_tail ? 1 : 0);
  for (size_t kc = 0; kc < chunks; ++kc) {
    const bool tail = kc == full_chunks;
    const uint8_t* a0 = tail ? a[0].tail : a[0].base + kc * kChunkBytes;
    const size_t s0 = tail ? a[0].tail_stride : a[0].stride;
    _tile_loadd(4, a0, s0);
    _tile_loadd(6, b0 + kc * kTileBytes, kChunkBytes);
    EDLAE_TILE_DP(0, 4, 6);
    if constexpr (kB > 1) {
      _tile_loadd(7, b1 + kc * kTileBytes, kChunkBytes);
      EDLAE_TILE_DP(1, 4, 7);
    }
    if constexpr (kA > 1) {
      const uint8_t* a1 = tail ? a[1].tail : a[1].base + kc * kChunkBytes;
      const size_t s1 = tail ? a[1].tail_stride : a[1].stride;
      _tile_loadd(5, a1, s1);
      EDLAE_TILE_DP(2, 5, 6);
      if constexpr (kB > 1) EDLAE_TILE_DP(3, 5, 7);
    }
    pending.RunNext();
    prefetch.ForChunk(kc, chunks);
  }
  pending.RunAll();
  _tile_stored(0, c, kChunkBytes);
  if constexpr (kB > 1) _tile_stored(1, c + kTileWords, kChunkBytes);
  if constexpr (kA > 1) _tile_stored(2, c + 2 * kTileWords, kChunkBytes);
  if constexpr (kA > 1 && kB > 1) {
    _tile_stored(3, c + 3 * kTileWords, kChunkBytes);
  }
  CompilerBarrier();
}

#undef EDLAE_TILE_DP

// Per-thread buffers, reused across calls.
struct TileScratch {
  std::vector<uint8_t> pad[2];  // a partial item tile, zero-padded
  alignas(64) uint8_t tail[2][kTileBytes];
  // C blocks, alternately: one's epilogues run while the next multiplies.
  alignas(64) uint32_t c[2][4 * kTileWords];
};

TileScratch& ThreadScratch() {
  thread_local TileScratch scratch;
  return scratch;
}

// The shared driver. v: count rows of row_bytes bytes, stride_bytes apart,
// scored against the packed panels of `batch` users; out: 32-bit results,
// int8's dequantized to float when row_scales (count) and user_scales
// (batch) are given.
template <bool kInt8>
void RunTiles(const uint8_t* v, size_t stride_bytes, size_t count,
              size_t row_bytes, const uint32_t* panel_words, size_t batch,
              uint32_t* out, size_t out_stride,
              const float* row_scales = nullptr,
              const float* user_scales = nullptr) {
  TileScratch& s = ThreadScratch();
  const size_t full_chunks = row_bytes / kChunkBytes;
  const size_t tail_bytes = row_bytes % kChunkBytes;
  const bool has_tail = tail_bytes != 0;
  const size_t chunks = full_chunks + (has_tail ? 1 : 0);
  const size_t padded_bytes = chunks * kChunkBytes;
  const size_t groups = (batch + kTileRows - 1) / kTileRows;
  const uint8_t* panels = reinterpret_cast<const uint8_t*>(panel_words);
  const size_t panel_bytes = chunks * kTileBytes;

  EpilogueQueue pending(out_stride);
  size_t block = 0;  // C blocks multiplied, to alternate s.c
  ConfigureTiles();
  for (size_t j = 0; j < count; j += 2 * kTileRows) {
    const int num_a = count - j > kTileRows ? 2 : 1;
    RowTile a[2];
    for (int t = 0; t < num_a; ++t) {
      const size_t first = j + t * kTileRows;
      const size_t valid = std::min(kTileRows, count - first);
      const uint8_t* src = v + first * stride_bytes;
      if (valid == kTileRows) {
        a[t].base = src;
        a[t].stride = stride_bytes;
        if (has_tail && kInt8 && first + kTileRows < count) {
          // int8 only: the tail chunk read in place runs at most 63 bytes
          // past a row's k elements, into its padding or the next row, all
          // inside the rows given (this tile does not hold the last one);
          // those bytes meet z's zero padding, and an integer times zero is
          // zero. (A bf16 NaN times zero is not, so bf16 copies.)
          a[t].tail = src + full_chunks * kChunkBytes;
          a[t].tail_stride = stride_bytes;
        } else if (has_tail) {
          std::memset(s.tail[t], 0, kTileBytes);
          for (size_t r = 0; r < kTileRows; ++r) {
            std::memcpy(s.tail[t] + r * kChunkBytes,
                        src + r * stride_bytes + full_chunks * kChunkBytes,
                        tail_bytes);
          }
          a[t].tail = s.tail[t];
          a[t].tail_stride = kChunkBytes;
        }
      } else {  // the last, partial item tile: copied, zero rows below
        s.pad[t].assign(kTileRows * padded_bytes, 0);
        for (size_t r = 0; r < valid; ++r) {
          std::memcpy(s.pad[t].data() + r * padded_bytes,
                      src + r * stride_bytes, row_bytes);
        }
        a[t].base = s.pad[t].data();
        a[t].stride = padded_bytes;
        a[t].tail = s.pad[t].data() + full_chunks * kChunkBytes;
        a[t].tail_stride = padded_bytes;
      }
    }
    // The next item pair's rows, a share of them per C block of this pair.
    const size_t next = j + 2 * kTileRows;
    const size_t next_rows =
        next < count ? std::min(2 * kTileRows, count - next) : 0;
    const size_t blocks_per_pair = (groups + 1) / 2;
    for (size_t g = 0; g < groups; g += 2) {
      const int num_b = groups - g >= 2 ? 2 : 1;
      const size_t share = g / 2;
      const size_t first_row = share * next_rows / blocks_per_pair;
      const RowPrefetch prefetch{
          v + (next + first_row) * stride_bytes, stride_bytes,
          (share + 1) * next_rows / blocks_per_pair - first_row, row_bytes};
      const uint8_t* b = panels + g * panel_bytes;
      uint32_t* c = s.c[block++ % 2];
      if (num_a == 2 && num_b == 2) {
        MultiplyTiles<kInt8, 2, 2>(a, full_chunks, has_tail, b, panel_bytes, c,
                                   pending, prefetch);
      } else if (num_a == 2) {
        MultiplyTiles<kInt8, 2, 1>(a, full_chunks, has_tail, b, panel_bytes, c,
                                   pending, prefetch);
      } else if (num_b == 2) {
        MultiplyTiles<kInt8, 1, 2>(a, full_chunks, has_tail, b, panel_bytes, c,
                                   pending, prefetch);
      } else {
        MultiplyTiles<kInt8, 1, 1>(a, full_chunks, has_tail, b, panel_bytes, c,
                                   pending, prefetch);
      }
      for (int ta = 0; ta < num_a; ++ta) {
        for (int tb = 0; tb < num_b; ++tb) {
          const size_t item0 = j + ta * kTileRows;
          const size_t user0 = (g + tb) * kTileRows;
          pending.Add({c + (2 * ta + tb) * kTileWords,
                       std::min(kTileRows, count - item0),
                       std::min(kTileRows, batch - user0),
                       out + user0 * out_stride + item0,
                       row_scales != nullptr ? row_scales + item0 : nullptr,
                       user_scales != nullptr ? user_scales + user0 : nullptr});
        }
      }
    }
  }
  pending.RunAll();
  ReleaseTiles();
}

// ---- AVX-512 VNNI (int8) ----
//
// vpdpbusd multiplies unsigned by signed bytes, four per 32-bit lane, and
// adds them to the lane. With sixteen items in the lanes, V is repacked per
// call so that one vector holds byte quad q of 16 items, offset to unsigned
// (u = v + 128, an XOR with 0x80); z's quad q of one user is broadcast to
// every lane. Then Σ_d u_d·z_d = Σ_d v_d·z_d + 128·Σ_d z_d, and the user's
// Σ z is subtracted at the end. The lanes wrap modulo 2³², so the result is
// the exact sum whenever that fits int32 (the REQUIRES bound).

#define EDLAE_VNNI_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr size_t kVnniUsers = 12;  // users per register tile (24 accumulators)

// Panel p of `packed` (quads vectors of 64 bytes): vector q holds quad q of
// items 16p … 16p + 15, each byte XOR 0x80. Items past count and bytes past
// dim are v = 0 (0x80); z is zero there, so they add nothing.
EDLAE_VNNI_TARGET void PackPanelsU8(const int8_t* v, size_t stride,
                                    size_t count, size_t dim, size_t quads,
                                    size_t panels, uint8_t* packed) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (size_t p = 0; p < panels; ++p) {
    for (size_t q0 = 0; q0 < quads; q0 += 16) {
      const size_t first = q0 * 4;
      const size_t bytes = std::min<size_t>(64, dim - first);
      const __mmask64 mask =
          bytes == 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
      __m512i r[16];
      for (size_t i = 0; i < 16; ++i) {
        const size_t item = p * 16 + i;
        r[i] = item < count
                   ? _mm512_maskz_loadu_epi8(mask, v + item * stride + first)
                   : _mm512_setzero_si512();
      }
      Transpose16x16(r);
      const size_t n = std::min<size_t>(16, quads - q0);
      uint8_t* out = packed + (p * quads + q0) * 64;
      for (size_t q = 0; q < n; ++q) {
        _mm512_store_si512(out + q * 64, _mm512_xor_si512(r[q], flip));
      }
    }
  }
}

// kU users (z rows of quads·4 bytes, zero-padded, z_stride apart) against
// two panels; acc[2u + t] = panel t's 16 sums for user u (before the offset).
template <size_t kU>
EDLAE_VNNI_TARGET void VnniTile(const uint8_t* p0, const uint8_t* p1,
                                size_t quads, const int8_t* z, size_t z_stride,
                                __m512i* acc) {
  __m512i a0[kU], a1[kU];
  for (size_t u = 0; u < kU; ++u) {
    a0[u] = _mm512_setzero_si512();
    a1[u] = _mm512_setzero_si512();
  }
  for (size_t q = 0; q < quads; ++q) {
    const __m512i v0 = _mm512_load_si512(p0 + q * 64);
    const __m512i v1 = _mm512_load_si512(p1 + q * 64);
    for (size_t u = 0; u < kU; ++u) {
      int32_t quad;
      std::memcpy(&quad, z + u * z_stride + q * 4, 4);
      const __m512i zq = _mm512_set1_epi32(quad);
      a0[u] = _mm512_dpbusd_epi32(a0[u], v0, zq);
      a1[u] = _mm512_dpbusd_epi32(a1[u], v1, zq);
    }
  }
  for (size_t u = 0; u < kU; ++u) {
    acc[2 * u] = a0[u];
    acc[2 * u + 1] = a1[u];
  }
}

template <size_t... kU>
constexpr auto MakeVnniTiles(std::index_sequence<kU...>) {
  using Fn = void (*)(const uint8_t*, const uint8_t*, size_t, const int8_t*,
                      size_t, __m512i*);
  return std::array<Fn, sizeof...(kU)>{&VnniTile<kU + 1>...};
}
constexpr auto kVnniTiles =
    MakeVnniTiles(std::make_index_sequence<kVnniUsers>());

// z: batch rows of zs bytes (zero-padded to quads·4), z_sum: Σ z per row.
EDLAE_VNNI_TARGET void DotRowsI8Vnni(const int8_t* v, size_t stride,
                                     size_t count, size_t dim,
                                     const int8_t* z, size_t zs,
                                     const int32_t* z_sum, size_t batch,
                                     int32_t* out, size_t out_stride) {
  thread_local std::vector<uint8_t, AlignedAllocator<uint8_t>> packed;
  const size_t quads = zs / 4;
  const size_t panels = (count + 15) / 16;
  const size_t even_panels = panels + (panels & 1);  // tiles take two
  packed.resize(even_panels * quads * 64);
  PackPanelsU8(v, stride, count, dim, quads, even_panels, packed.data());
  __m512i acc[2 * kVnniUsers];
  for (size_t b0 = 0; b0 < batch; b0 += kVnniUsers) {
    const size_t users = std::min(kVnniUsers, batch - b0);
    for (size_t p = 0; p < panels; p += 2) {
      const uint8_t* p0 = packed.data() + p * quads * 64;
      kVnniTiles[users - 1](p0, p0 + quads * 64, quads, z + b0 * zs, zs, acc);
      for (size_t u = 0; u < users; ++u) {
        const __m512i offset = _mm512_set1_epi32(128 * z_sum[b0 + u]);
        int32_t* row = out + (b0 + u) * out_stride;
        for (size_t t = 0; t < 2 && p + t < panels; ++t) {
          const size_t item0 = (p + t) * 16;
          const size_t n = std::min<size_t>(16, count - item0);
          _mm512_mask_storeu_epi32(row + item0, FirstLanes16(n),
                                   _mm512_sub_epi32(acc[2 * u + t], offset));
        }
      }
    }
  }
}

#undef EDLAE_VNNI_TARGET

#endif  // EDLAE_HAVE_AMX_CODE

}  // namespace

const X86MatrixFeatures& DetectX86MatrixFeatures() {
  static const X86MatrixFeatures features = Detect();
  return features;
}

X86MatrixPath ActiveX86MatrixPath() {
  const int forced = g_forced_path.load(std::memory_order_relaxed);
  return forced < 0 ? BestPath() : static_cast<X86MatrixPath>(forced);
}

const char* X86MatrixPathName(X86MatrixPath path) {
  switch (path) {
    case X86MatrixPath::kAmx:
      return "AMX";
    case X86MatrixPath::kVnni:
      return "VNNI";
    case X86MatrixPath::kNone:
      break;
  }
  return "none";
}

bool X86MatrixPathAvailable(X86MatrixPath path) {
  const X86MatrixFeatures& f = DetectX86MatrixFeatures();
  switch (path) {
    case X86MatrixPath::kAmx:
      return f.amx_tile;
    case X86MatrixPath::kVnni:
      return f.avx512_vnni;
    case X86MatrixPath::kNone:
      break;
  }
  return true;
}

bool TilesActiveFor(bool int8, size_t batch) {
  const X86MatrixFeatures& f = DetectX86MatrixFeatures();
  switch (ActiveX86MatrixPath()) {
    case X86MatrixPath::kAmx:
      return int8 ? f.amx_int8 && batch >= 2 : f.amx_bf16;
    case X86MatrixPath::kVnni:  // V is repacked per call: batch 1 on Highway
      return int8 && f.avx512_vnni && batch >= 2;
    case X86MatrixPath::kNone:
      break;
  }
  return false;
}

bool ForceX86MatrixPathForTest(X86MatrixPath path) {
  if (!X86MatrixPathAvailable(path)) return false;
  g_forced_path.store(static_cast<int>(path), std::memory_order_relaxed);
  return true;
}

void ResetX86MatrixPath() {
  g_forced_path.store(-1, std::memory_order_relaxed);
}

namespace {

// Packs rows of `bytes` bytes (z already in the rows' element type) into
// panels; rows shorter than the chunks are zero-padded.
void PackPanels(const uint8_t* rows, size_t row_stride_bytes, size_t batch,
                size_t bytes, size_t chunks, std::vector<uint32_t>& panels) {
  const size_t groups = (batch + 15) / 16;
  const size_t words = chunks * 16;  // per row
  panels.assign(groups * chunks * 256, 0);
  std::vector<uint8_t> row(words * 4);
  for (size_t u = 0; u < batch; ++u) {
    std::memset(row.data(), 0, row.size());
    std::memcpy(row.data(), rows + u * row_stride_bytes, bytes);
    uint32_t* panel = panels.data() + (u / 16) * chunks * 256 + u % 16;
    for (size_t w = 0; w < words; ++w) {
      std::memcpy(panel + w * 16, row.data() + 4 * w, 4);
    }
  }
}

size_t ChunksOf(size_t bytes) { return (bytes + 63) / 64; }

}  // namespace

TileQueries TileQueries::Bf16(const float* z, size_t z_stride, size_t batch,
                              size_t dim) {
  TileQueries q;
  q.batch_ = batch;
  q.dim_ = dim;
  q.row_bytes_ = dim * 2;
  q.chunks_ = ChunksOf(q.row_bytes_);
  q.path_ = ActiveX86MatrixPath();
  std::vector<uint16_t> rounded(batch * dim);
  for (size_t b = 0; b < batch; ++b) {
    for (size_t d = 0; d < dim; ++d) {
      rounded[b * dim + d] = FloatToBf16(z[b * z_stride + d]);
    }
  }
  PackPanels(reinterpret_cast<const uint8_t*>(rounded.data()), dim * 2, batch,
             dim * 2, q.chunks_, q.panels_);
  return q;
}

TileQueries TileQueries::Int8(const int8_t* z, size_t z_stride, size_t batch,
                              size_t dim, const float* z_scales) {
  TileQueries q;
  q.int8_ = true;
  if (z_scales != nullptr) q.scales_.assign(z_scales, z_scales + batch);
  q.batch_ = batch;
  q.dim_ = dim;
  q.row_bytes_ = dim;
  q.chunks_ = ChunksOf(dim);
  q.path_ = ActiveX86MatrixPath();
  if (q.path_ == X86MatrixPath::kVnni) {
    const size_t zs = (dim + 3) / 4 * 4;
    q.padded_.assign(batch * zs, 0);
    q.sums_.assign(batch, 0);
    for (size_t b = 0; b < batch; ++b) {
      for (size_t d = 0; d < dim; ++d) {
        q.padded_[b * zs + d] = z[b * z_stride + d];
        q.sums_[b] += z[b * z_stride + d];
      }
    }
    return q;
  }
  PackPanels(reinterpret_cast<const uint8_t*>(z), z_stride, batch, dim,
             q.chunks_, q.panels_);
  return q;
}

bool TileQueries::Score(const void* v, size_t stride, size_t count,
                        const float* row_scales, void* out,
                        size_t out_stride) const {
#if EDLAE_HAVE_AMX_CODE
  if (!TilesActiveFor(int8_, batch_) || path_ != ActiveX86MatrixPath()) {
    return false;
  }
  if (count == 0 || batch_ == 0) return true;
  const float* user_scales = row_scales != nullptr ? scales_.data() : nullptr;
  const size_t element = int8_ ? 1 : 2;
  if (path_ == X86MatrixPath::kVnni) {
    DotRowsI8Vnni(static_cast<const int8_t*>(v), stride, count, dim_,
                  padded_.data(), padded_.size() / batch_, sums_.data(), batch_,
                  static_cast<int32_t*>(out), out_stride);
    if (row_scales != nullptr) {
      ScaleDotsInPlace(out, out_stride, count, batch_, row_scales, user_scales);
    }
  } else if (int8_) {
    RunTiles<true>(static_cast<const uint8_t*>(v), stride * element, count,
                   row_bytes_, panels_.data(), batch_,
                   static_cast<uint32_t*>(out), out_stride, row_scales,
                   user_scales);
  } else {
    RunTiles<false>(static_cast<const uint8_t*>(v), stride * element, count,
                    row_bytes_, panels_.data(), batch_,
                    static_cast<uint32_t*>(out), out_stride);
  }
  return true;
#else
  (void)v, (void)stride, (void)count, (void)row_scales, (void)out,
      (void)out_stride;
  return false;
#endif
}

bool DotRowsTiles(const void* v, size_t stride, size_t count,
                  const TileQueries& q, void* out, size_t out_stride) {
  return q.Score(v, stride, count, /*row_scales=*/nullptr, out, out_stride);
}

bool DotRowsTilesScaled(const int8_t* v, size_t stride, size_t count,
                        const float* row_scales, const TileQueries& q,
                        float* out, size_t out_stride) {
  if (!q.int8_ || q.scales_.size() != q.batch_) return false;
  return q.Score(v, stride, count, row_scales, out, out_stride);
}

bool DotRowsBatchBF16X86(const uint16_t* v, size_t stride, size_t count,
                         const float* z, size_t z_stride, size_t batch,
                         size_t dim, float* out, size_t out_stride) {
  if (!TilesActiveFor(false, batch)) return false;
  return DotRowsTiles(v, stride, count,
                      TileQueries::Bf16(z, z_stride, batch, dim), out,
                      out_stride);
}

bool DotRowsBatchI8X86(const int8_t* v, size_t stride, size_t count,
                       const int8_t* z, size_t z_stride, size_t batch,
                       size_t dim, int32_t* out, size_t out_stride) {
  if (!TilesActiveFor(true, batch)) return false;
  return DotRowsTiles(v, stride, count,
                      TileQueries::Int8(z, z_stride, batch, dim), out,
                      out_stride);
}

}  // namespace edlae
