// Stage 4: from colours to palette indices, with optional Floyd-Steinberg dithering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nearest.hpp"

namespace quantcli {

// labels[p] = color_label[pixel_color[p]]: every unique colour was looked up once.
void remap_by_color(const std::vector<std::uint32_t>& pixel_color,
                    const std::vector<std::int32_t>& color_label, std::uint8_t* labels,
                    int threads = 1);

// Serpentine Floyd-Steinberg error diffusion onto `palette`. Fully transparent pixels
// take their nearest entry as they are and pass no error on. Returns the summed squared
// error between the (alpha-canonical) input and the output, over all channels.
double remap_dithered(const std::uint8_t* pixels, std::size_t width, std::size_t height,
                      int channels, const std::vector<Point4>& palette, std::uint8_t* labels);

}  // namespace quantcli
