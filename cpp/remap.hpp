// Stage 4: from colours to palette indices (dithering is in dither.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nearest.hpp"

namespace quantcli {

// labels[p] = color_label[pixel_color[p]]: every unique colour was looked up once.
void remap_by_color(const std::vector<std::uint32_t>& pixel_color,
                    const std::vector<std::int32_t>& color_label, std::uint8_t* labels, int threads = 1);

// Nearest-colour remapping that prefers runs. A pixel whose colour is within `margin`
// (squared distance) of being as close to its second-nearest entry as to its nearest
// (`near_tie[c]`) takes the second one when its left or upper neighbour already has it.
// Runs get longer and deflate compresses better, for a bounded error. `best_sq`/`second_sq`
// are the colours' squared distances to the two entries.
void remap_preferring_runs(const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                           const std::vector<std::int32_t>& best, const std::vector<std::int32_t>& second,
                           const std::vector<float>& best_sq, const std::vector<float>& second_sq,
                           float margin, std::uint8_t* labels);

}  // namespace quantcli
