// Stage 5: palette PNG files (colour type 3, or 0 for a grey palette) from labels and a palette.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "color.hpp"

namespace quantcli {

// Levels 0 to 9 are zlib's, 10 to 12 libdeflate's near-optimal parsing (smaller and
// slower); both deflate fixed pieces of the image on several threads.
inline constexpr int kFirstOptimalLevel = 10, kMaxLevel = 12;

// The type of the empty chunk that follows IHDR in every PNG quantcli writes.
inline constexpr char kOutputMarker[] = "quNT";

struct PngOptions {
    int level = 10;              // 0..kMaxLevel
    bool choose_filters = true;  // pick the row filters from a sample; false: filter None
    int threads = 0;             // 0: all cores; the bytes are the same for any value
};

// Smallest PNG bit depth (1, 2, 4 or 8) that can index `palette_size` entries.
int bit_depth_for(std::size_t palette_size);

// Writes IHDR, PLTE, tRNS (only when an entry is not opaque), IDAT and IEND; or, when
// every entry is grey and opaque and the file comes out smaller, a greyscale PNG at the
// smallest bit depth that holds the values, with no PLTE. Palette entries are
// reordered first: translucent ones lead so tRNS stays short, the rest follow by
// luminance so that similar colours get nearby indices, which is what makes the PNG
// filters (differences of indices) work on gradients. The filter strategy (None, Sub,
// Up, Average, Paeth on every row, or the minimum-sum heuristic per row) is chosen by
// deflating a sample of rows each way. `labels` holds width * height indices below
// `palette.size()`.
std::vector<std::uint8_t> encode_png(const std::uint8_t* labels, std::size_t width, std::size_t height,
                                     const std::vector<Rgba8>& palette, const PngOptions& options);

}  // namespace quantcli
