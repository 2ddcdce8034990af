// Stage 0 for the common case: decoding a plain PNG in the core, so that one small file
// needs neither Pillow nor NumPy in the process (start-up time of the command line).
//
// "Plain" means everything needed to read it is here and nothing can change its pixels
// beyond the rule of python/quantcli/images.py: 8 bits per sample or fewer, not
// interlaced, no colour profile and no orientation (no iCCP, eXIf, or EXIF/XMP text),
// valid chunk CRCs and a zlib stream that holds exactly the rows IHDR declares. Any
// other file, good or bad, is declined and left to the Python decoder, which reads
// every format and words every error: this one never reports one of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace quantcli {

struct DecodedImage {
    std::vector<std::uint8_t> pixels;  // width * height * channels, rows top to bottom
    std::size_t width = 0, height = 0;
    int channels = 0;  // 3 (RGB), or 4 (RGBA) when some pixel is not opaque
};

// Decodes `data` into `out` by the rule of quantcli.images (grey becomes RGB, palette
// entries their colours, alpha kept only when some pixel is not opaque). Returns false,
// leaving `out` unspecified, for any file that is not a plain PNG or declares more than
// `max_pixels` pixels (0: no limit).
bool decode_plain_png(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels,
                      DecodedImage& out);

}  // namespace quantcli
