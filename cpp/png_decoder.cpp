#include "png_decoder.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

namespace quantcli {
namespace {

constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::uint32_t get_u32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

bool is_type(const std::uint8_t* type, const char* name) {
    return std::memcmp(type, name, 4) == 0;
}

// Ancillary chunks that cannot change the pixels quantcli.images decodes: Pillow keeps
// them as metadata only. Pillow stores a tEXt chunk in the image's info under its keyword,
// where some keys are read back: EXIF or XMP with an orientation ("Raw profile type exif",
// "XML:com.adobe.xmp", and "exif", whose value Pillow keeps as raw EXIF bytes), "xmp",
// and "transparency" (a palette image with a text value there fails to convert). Only
// other keywords pass. Every chunk not listed (iCCP, eXIf, zTXt, iTXt, acTL, ...) declines.
bool harmless(const std::uint8_t* type, const std::uint8_t* body, std::size_t length) {
    for (const char* name : {"gAMA", "cHRM", "sRGB", "pHYs", "tIME", "bKGD", "sBIT", "quNT"}) {
        if (is_type(type, name)) return true;
    }
    if (!is_type(type, "tEXt")) return false;
    const std::string keyword(reinterpret_cast<const char*>(body),
                              strnlen(reinterpret_cast<const char*>(body), length));
    for (const char* read_back :
         {"Raw profile type exif", "XML:com.adobe.xmp", "exif", "xmp", "transparency"}) {
        if (keyword == read_back) return false;
    }
    return true;
}

// Pillow refuses a file whose text chunks hold more than 64 MB (MAX_TEXT_MEMORY); far
// below that, any file with this much text is left to it.
constexpr std::size_t kMaxTextBytes = std::size_t{1} << 20;

struct Header {
    std::uint32_t width = 0, height = 0;
    int depth = 0, colour_type = 0;
};

// Samples per pixel of each colour type that can be read here; 0 for the others.
int samples_of(int colour_type) {
    switch (colour_type) {
        case 0:
            return 1;  // grey
        case 2:
            return 3;  // RGB
        case 3:
            return 1;  // palette index
        case 4:
            return 2;  // grey + alpha
        case 6:
            return 4;  // RGBA
        default:
            return 0;
    }
}

bool read_header(const std::uint8_t* body, std::size_t length, Header& h) {
    if (length != 13) return false;
    h.width = get_u32(body);
    h.height = get_u32(body + 4);
    h.depth = body[8];
    h.colour_type = body[9];
    const bool low_depth = h.depth == 1 || h.depth == 2 || h.depth == 4;
    const bool depth_ok = h.depth == 8 || (low_depth && (h.colour_type == 0 || h.colour_type == 3));
    // compression 0, filter method 0, interlace 0 (Adam7 is left to Pillow)
    return h.width > 0 && h.height > 0 && h.width < (1u << 31) && h.height < (1u << 31) && depth_ok &&
           samples_of(h.colour_type) > 0 && body[10] == 0 && body[11] == 0 && body[12] == 0;
}

// Inflates the zlib stream `in` into exactly `out_size` bytes, consuming all of `in`.
// zlib's inflate, as Pillow's: libdeflate decodes some streams zlib refuses (length
// symbols 286 and 287 as 258), which Pillow reads as corrupt image data, so they must
// not decode here.
bool inflate_exactly(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out, std::size_t out_size) {
    z_stream stream{};
    if (inflateInit(&stream) != Z_OK) throw std::bad_alloc();
    const std::unique_ptr<z_stream, decltype(&inflateEnd)> end(&stream, &inflateEnd);
    constexpr std::size_t kStep = std::size_t{1} << 30;  // avail_in and avail_out are 32-bit
    stream.next_in = const_cast<Bytef*>(in);             // zlib's API takes no const input
    stream.next_out = out;
    std::size_t in_left = in_size, out_left = out_size;
    int status = Z_OK;
    while (status == Z_OK) {
        const auto in_step = static_cast<uInt>(std::min(in_left, kStep));
        const auto out_step = static_cast<uInt>(std::min(out_left, kStep));
        stream.avail_in = in_step;
        stream.avail_out = out_step;
        status = inflate(&stream, Z_NO_FLUSH);  // Z_BUF_ERROR once either side runs out
        in_left -= in_step - stream.avail_in;
        out_left -= out_step - stream.avail_out;
    }
    if (status == Z_MEM_ERROR) throw std::bad_alloc();
    return status == Z_STREAM_END && in_left == 0 && out_left == 0;
}

int paeth(int a, int b, int c) {
    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

// Reverses the row filters in place: `raw` holds height rows of a filter byte and
// `row_bytes` bytes, `bpp` bytes per complete pixel (at least 1). False for an unknown filter.
bool unfilter(std::uint8_t* raw, std::size_t height, std::size_t row_bytes, std::size_t bpp) {
    const std::uint8_t* prior = nullptr;
    for (std::size_t y = 0; y < height; ++y) {
        const std::uint8_t filter = raw[y * (row_bytes + 1)];
        std::uint8_t* row = raw + y * (row_bytes + 1) + 1;
        switch (filter) {
            case 0:
                break;
            case 1:
                for (std::size_t i = bpp; i < row_bytes; ++i)
                    row[i] = static_cast<std::uint8_t>(row[i] + row[i - bpp]);
                break;
            case 2:
                if (prior != nullptr) {
                    for (std::size_t i = 0; i < row_bytes; ++i)
                        row[i] = static_cast<std::uint8_t>(row[i] + prior[i]);
                }
                break;
            case 3:
                for (std::size_t i = 0; i < row_bytes; ++i) {
                    const int left = i >= bpp ? row[i - bpp] : 0, up = prior != nullptr ? prior[i] : 0;
                    row[i] = static_cast<std::uint8_t>(row[i] + ((left + up) >> 1));
                }
                break;
            case 4:
                for (std::size_t i = 0; i < row_bytes; ++i) {
                    const int left = i >= bpp ? row[i - bpp] : 0, up = prior != nullptr ? prior[i] : 0;
                    const int corner = i >= bpp && prior != nullptr ? prior[i - bpp] : 0;
                    row[i] = static_cast<std::uint8_t>(row[i] + paeth(left, up, corner));
                }
                break;
            default:
                return false;
        }
        prior = row;
    }
    return true;
}

// Sample x of a row packed at `depth` bits (1, 2, 4 or 8), most significant bits first.
std::uint8_t sample_at(const std::uint8_t* row, std::size_t x, int depth) {
    if (depth == 8) return row[x];
    const std::size_t bit = x * depth;
    const int shift = 8 - depth - static_cast<int>(bit & 7);
    return static_cast<std::uint8_t>((row[bit >> 3] >> shift) & ((1 << depth) - 1));
}

// The unfiltered rows as RGBA, by the rule; false when a palette index has no entry.
bool to_rgba(const std::uint8_t* raw, std::size_t row_bytes, const Header& h, const std::uint8_t* plte,
             std::size_t plte_entries, const std::uint8_t* trns, std::size_t trns_length,
             std::uint8_t* rgba) {
    // Grey below 8 bits scales to 0..255 as Pillow's unpackers do (1: x255, 2: x85, 4: x17).
    const int grey_scale = 255 / ((1 << h.depth) - 1);
    for (std::size_t y = 0; y < h.height; ++y) {
        const std::uint8_t* row = raw + y * (row_bytes + 1) + 1;
        std::uint8_t* out = rgba + y * std::size_t{h.width} * 4;
        for (std::size_t x = 0; x < h.width; ++x, out += 4) {
            switch (h.colour_type) {
                case 0: {
                    const auto g = static_cast<std::uint8_t>(sample_at(row, x, h.depth) * grey_scale);
                    out[0] = out[1] = out[2] = g;
                    out[3] = 255;
                    break;
                }
                case 2:
                    std::memcpy(out, row + 3 * x, 3);
                    out[3] = 255;
                    break;
                case 3: {
                    const std::uint8_t index = sample_at(row, x, h.depth);
                    if (index >= plte_entries) return false;
                    std::memcpy(out, plte + 3 * index, 3);
                    out[3] = index < trns_length ? trns[index] : 255;
                    break;
                }
                case 4:
                    out[0] = out[1] = out[2] = row[2 * x];
                    out[3] = row[2 * x + 1];
                    break;
                default:
                    std::memcpy(out, row + 4 * x, 4);
                    break;
            }
        }
    }
    return true;
}

}  // namespace

bool decode_plain_png(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels,
                      DecodedImage& out) {
    if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return false;
    Header h;
    const std::uint8_t *plte = nullptr, *trns = nullptr;
    std::size_t plte_length = 0, trns_length = 0;
    std::vector<std::uint8_t> idat;
    std::size_t text_bytes = 0;
    // seen_idat, not a non-empty idat: an empty IDAT chunk starts the image data too, for
    // Pillow, which reads no IDAT after the first other chunk that follows it.
    bool seen_header = false, seen_idat = false, idat_done = false, ended = false;
    for (std::size_t pos = 8; !ended;) {
        if (size - pos < 12) return false;  // no IEND
        const std::size_t length = get_u32(data + pos);
        if (length > size - pos - 12) return false;
        const std::uint8_t* type = data + pos + 4;
        const std::uint8_t* body = type + 4;
        const std::uint32_t crc =
            static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), type, static_cast<uInt>(length + 4)));
        if (crc != get_u32(body + length)) return false;
        pos += length + 12;
        const bool is_idat = is_type(type, "IDAT");
        if (seen_idat && !is_idat) idat_done = true;
        if (!seen_header) {
            if (!is_type(type, "IHDR") || !read_header(body, length, h)) return false;
            seen_header = true;
        } else if (is_idat) {
            if (idat_done) return false;  // IDAT chunks must follow one another
            seen_idat = true;
            idat.insert(idat.end(), body, body + length);
        } else if (is_type(type, "IEND")) {
            ended = true;
        } else if (is_type(type, "PLTE")) {
            if (plte != nullptr || seen_idat || length % 3 != 0 || length == 0 || length > 768) return false;
            plte = body;
            plte_length = length;
        } else if (is_type(type, "tRNS")) {
            // A colour key on grey or RGB is left to Pillow; a palette's alpha table is read here
            // when it has no more entries than the palette (Pillow refuses one over 256).
            if (h.colour_type != 3 || plte == nullptr || trns != nullptr || seen_idat ||
                length > plte_length / 3) {
                return false;
            }
            trns = body;
            trns_length = length;
        } else if (!harmless(type, body, length)) {
            return false;
        } else if (is_type(type, "tEXt") && (text_bytes += length) > kMaxTextBytes) {
            return false;
        }
    }
    if (idat.empty() || (h.colour_type == 3 && plte == nullptr)) return false;
    if (h.colour_type != 3 && plte != nullptr && (h.colour_type == 0 || h.colour_type == 4)) return false;
    const std::uint64_t pixels = std::uint64_t{h.width} * h.height;
    // Over 4 G pixels the sizes below could overflow; Pillow refuses those anyway.
    if ((max_pixels != 0 && pixels > max_pixels) || pixels > (std::uint64_t{1} << 32)) return false;

    const std::size_t samples = samples_of(h.colour_type);
    const std::size_t row_bytes = (std::uint64_t{h.width} * samples * h.depth + 7) / 8;
    const std::size_t bpp = (samples * h.depth + 7) / 8;
    // Not zero-filled: a page is committed only once the inflater writes it, so a tiny file
    // declaring a large image costs no more memory than the rows its data holds.
    const std::size_t raw_size = h.height * (row_bytes + 1);
    std::unique_ptr<std::uint8_t[]> raw(new std::uint8_t[raw_size]);
    // Exactly the declared rows, and nothing after the stream: anything else is Pillow's to judge.
    if (!inflate_exactly(idat.data(), idat.size(), raw.get(), raw_size)) return false;
    if (!unfilter(raw.get(), h.height, row_bytes, bpp)) return false;

    std::vector<std::uint8_t> rgba(pixels * 4);
    if (!to_rgba(raw.get(), row_bytes, h, plte, plte_length / 3, trns, trns_length, rgba.data()))
        return false;
    raw.reset();
    bool opaque = true;
    for (std::size_t i = 3; i < rgba.size() && opaque; i += 4) opaque = rgba[i] == 255;
    out.width = h.width;
    out.height = h.height;
    out.channels = opaque ? 3 : 4;
    if (opaque) {  // drop the alpha channel in place: each write lands at or before its read
        for (std::size_t i = 0; i < pixels; ++i) std::memmove(&rgba[3 * i], &rgba[4 * i], 3);
        rgba.resize(pixels * 3);
        rgba.shrink_to_fit();
    }
    out.pixels = std::move(rgba);
    return true;
}

}  // namespace quantcli
