#include "png_encoder.hpp"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>

#include "parallel.hpp"

namespace quantcli {
namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 24));
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put_chunk(std::vector<std::uint8_t>& out, const char* type, const std::uint8_t* data, std::size_t size) {
    put_u32(out, static_cast<std::uint32_t>(size));
    const std::size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    if (size > 0) out.insert(out.end(), data, data + size);
    // The CRC covers the chunk type and data, not the length.
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out.data() + start, static_cast<uInt>(out.size() - start));
    put_u32(out, static_cast<std::uint32_t>(crc));
}

// Palette order: entries with alpha < 255 first (so tRNS can stop early), then by
// luminance. Ties fall back to the original index so the order is total.
std::vector<std::uint32_t> palette_order(const std::vector<Rgba8>& palette) {
    std::vector<std::uint32_t> order(palette.size());
    std::iota(order.begin(), order.end(), 0u);
    auto luma = [&](std::uint32_t i) {
        const Rgba8& c = palette[i];
        return 299 * c[0] + 587 * c[1] + 114 * c[2];
    };
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        const bool ta = palette[a][3] != 255, tb = palette[b][3] != 255;
        if (ta != tb) return ta;
        if (ta && palette[a][3] != palette[b][3]) return palette[a][3] < palette[b][3];
        const int la = luma(a), lb = luma(b);
        if (la != lb) return la < lb;
        return a < b;
    });
    return order;
}

// Packs each row of indices at `depth` bits per pixel, most significant bits first.
std::vector<std::uint8_t> pack_rows(const std::uint8_t* labels, std::size_t width, std::size_t height,
                                    int depth, std::size_t stride) {
    std::vector<std::uint8_t> rows(stride * height, 0);
    const int per_byte = 8 / depth;
    for (std::size_t y = 0; y < height; ++y) {
        const std::uint8_t* src = labels + y * width;
        std::uint8_t* dst = rows.data() + y * stride;
        if (depth == 8) {
            std::copy(src, src + width, dst);
            continue;
        }
        for (std::size_t x = 0; x < width; ++x) {
            const int shift = 8 - depth * static_cast<int>(x % per_byte + 1);
            dst[x / per_byte] |= static_cast<std::uint8_t>(src[x] << shift);
        }
    }
    return rows;
}

inline std::uint8_t paeth(int a, int b, int c) {
    const int p = a + b - c;
    const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
    if (pb <= pc) return static_cast<std::uint8_t>(b);
    return static_cast<std::uint8_t>(c);
}

// Applies filter `type` (0..4) to one row; bytes per pixel is 1 for palette images.
void filter_row(int type, const std::uint8_t* row, const std::uint8_t* prev, std::size_t n,
                std::uint8_t* out) {
    for (std::size_t x = 0; x < n; ++x) {
        const int a = x > 0 ? row[x - 1] : 0;
        const int b = prev ? prev[x] : 0;
        const int c = (x > 0 && prev) ? prev[x - 1] : 0;
        int predicted = 0;
        switch (type) {
            case 1:
                predicted = a;
                break;
            case 2:
                predicted = b;
                break;
            case 3:
                predicted = (a + b) / 2;
                break;
            case 4:
                predicted = paeth(a, b, c);
                break;
            default:
                break;
        }
        out[x] = static_cast<std::uint8_t>(row[x] - predicted);
    }
}

// How rows are filtered: one of the five PNG filters on every row, or per row the filter
// whose output has the smallest sum of absolute values as signed bytes (the usual
// heuristic).
constexpr int kAdaptive = 5;

// Filtered scanlines (a filter-type byte, then the row) for `strategy` 0..4 or kAdaptive.
std::vector<std::uint8_t> filter_image(const std::vector<std::uint8_t>& rows, std::size_t first,
                                       std::size_t last, std::size_t stride, int strategy) {
    std::vector<std::uint8_t> out((stride + 1) * (last - first));
    std::vector<std::uint8_t> trial(stride), best(stride);
    auto cost = [](const std::vector<std::uint8_t>& v) {
        long total = 0;
        for (std::uint8_t byte : v) total += std::abs(static_cast<int>(static_cast<std::int8_t>(byte)));
        return total;
    };
    for (std::size_t y = first; y < last; ++y) {
        const std::uint8_t* row = rows.data() + y * stride;
        const std::uint8_t* prev = y > 0 ? row - stride : nullptr;
        std::uint8_t* dst = out.data() + (y - first) * (stride + 1);
        int type = strategy;
        if (strategy == kAdaptive) {
            long best_cost = -1;
            for (int t = 0; t <= 4; ++t) {
                filter_row(t, row, prev, stride, trial.data());
                const long c = cost(trial);
                if (best_cost < 0 || c < best_cost) best_cost = c, type = t, best.swap(trial);
            }
        } else {
            filter_row(type, row, prev, stride, best.data());
        }
        dst[0] = static_cast<std::uint8_t>(type);
        std::copy(best.begin(), best.end(), dst + 1);
    }
    return out;
}

// Picks the filter strategy for the whole image by deflating a sample of it (bands of
// rows spread over the image) each way at the fastest level. Quantized photos do best
// unfiltered; flat artwork and stripes often shrink by a fifth or more with Up or the
// adaptive choice.
int choose_strategy(const std::vector<std::uint8_t>& rows, std::size_t height, std::size_t stride) {
    constexpr std::size_t kBand = 16, kBands = 8;
    const std::size_t step = std::max<std::size_t>(kBand, height / kBands);
    // None, Up, and the per-row choice (which covers Sub, Average and Paeth).
    constexpr std::array<int, 3> kCandidates = {0, 2, kAdaptive};
    std::array<std::size_t, 3> size{};
    for (std::size_t c = 0; c < kCandidates.size(); ++c) {
        for (std::size_t first = 0; first < height; first += step) {
            const std::size_t last = std::min(height, first + kBand);
            std::vector<std::uint8_t> band = filter_image(rows, first, last, stride, kCandidates[c]);
            uLongf packed_size = compressBound(static_cast<uLong>(band.size()));
            std::vector<std::uint8_t> packed(packed_size);
            compress2(packed.data(), &packed_size, band.data(), static_cast<uLong>(band.size()), 1);
            size[c] += packed_size;
        }
    }
    // Small bands understate what unfiltered rows gain from long matches across rows, so
    // a filter must win the sample clearly: photos then stay unfiltered.
    std::size_t best = 0;
    for (std::size_t c = 1; c < kCandidates.size(); ++c) {
        if (size[c] < size[best]) best = c;
    }
    return 10 * size[best] <= 9 * size[0] ? kCandidates[best] : 0;
}

// Raw deflate of data[begin, end), primed with up to 32 KiB of the bytes before `begin`,
// ending byte-aligned (sync flush) unless it is the last piece of the stream.
std::vector<std::uint8_t> deflate_piece(const std::vector<std::uint8_t>& data, std::size_t begin,
                                        std::size_t end, int level, bool last) {
    z_stream zs{};
    if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("zlib: deflateInit2 failed");
    }
    const std::size_t window = std::min<std::size_t>(begin, 32768);
    if (window > 0) {
        deflateSetDictionary(&zs, data.data() + begin - window, static_cast<uInt>(window));
    }
    std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(end - begin)) + 64);
    zs.next_in = const_cast<Bytef*>(data.data() + begin);
    zs.avail_in = static_cast<uInt>(end - begin);
    const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
    int rc = Z_OK;
    while (true) {
        if (zs.total_out == out.size()) out.resize(out.size() * 2);
        zs.next_out = out.data() + zs.total_out;
        zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
        rc = deflate(&zs, flush);
        if (rc == Z_STREAM_END || (!last && rc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0)) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    deflateEnd(&zs);
    if (rc != Z_STREAM_END && rc != Z_OK) throw std::runtime_error("zlib: deflate failed");
    out.resize(zs.total_out);
    return out;
}

// A zlib stream of `data` made of independently compressed pieces of kPiece bytes, each
// primed with the 32 KiB before it (as pigz does), so the pieces compress in parallel at
// almost no cost in size. Piece boundaries are fixed, so the bytes do not depend on the
// number of threads.
std::vector<std::uint8_t> zlib_compress(const std::vector<std::uint8_t>& data, int level, int threads) {
    constexpr std::size_t kPiece = 256 * 1024;
    const std::size_t pieces = std::max<std::size_t>(1, block_count(data.size(), kPiece));
    std::vector<std::vector<std::uint8_t>> parts(pieces);
    parallel_for(pieces, threads, [&](std::size_t p) {
        const std::size_t begin = p * kPiece, end = std::min(data.size(), begin + kPiece);
        parts[p] = deflate_piece(data, begin, end, level, p + 1 == pieces);
    });
    // zlib header: deflate with a 32 KiB window, FLEVEL from the level, FCHECK to make the
    // 16-bit header a multiple of 31.
    const int flevel = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
    const unsigned cmf = 0x78;
    unsigned flg = static_cast<unsigned>(flevel) << 6;
    flg += 31 - (cmf * 256 + flg) % 31;
    std::vector<std::uint8_t> out = {static_cast<std::uint8_t>(cmf), static_cast<std::uint8_t>(flg)};
    for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
    const uLong adler = adler32(adler32(0L, Z_NULL, 0), data.data(), static_cast<uInt>(data.size()));
    put_u32(out, static_cast<std::uint32_t>(adler));
    return out;
}

// Bit positions in a raw deflate stream: where its final block's header starts, and where
// the stream ends. zlib's inflate stops before every block header when asked (Z_BLOCK).
struct FinalBlock {
    std::size_t header_bit = 0;
    std::size_t end_bit = 0;
};

FinalBlock find_final_block(const std::vector<std::uint8_t>& raw) {
    z_stream zs{};
    if (inflateInit2(&zs, -15) != Z_OK) throw std::runtime_error("zlib: inflateInit2 failed");
    zs.next_in = const_cast<Bytef*>(raw.data());
    zs.avail_in = static_cast<uInt>(raw.size());
    std::vector<std::uint8_t> sink(1 << 16);  // inflate keeps its own window: output is dropped
    FinalBlock out;
    int rc = Z_OK;
    while (true) {
        zs.next_out = sink.data();
        zs.avail_out = static_cast<uInt>(sink.size());
        rc = inflate(&zs, Z_BLOCK);
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated: cannot happen
        // data_type: the unused bits of the last byte read, + 128 when stopped before a
        // block header (or after the final block), + 64 once the final block was begun.
        const std::size_t bit = 8 * static_cast<std::size_t>(zs.total_in) - (zs.data_type & 7);
        if ((zs.data_type & 192) == 128) out.header_bit = bit;
        if ((zs.data_type & 192) == 192) out.end_bit = bit;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || out.end_bit == 0)
        throw std::runtime_error("libdeflate: a piece did not inflate");
    return out;
}

// libdeflate's near-optimal parser (levels 10 to 12): 8 to 10% smaller than zlib on
// quantized photos, several times slower. libdeflate cannot continue a stream, so the data
// is cut into pieces of kOptimalPiece bytes compressed independently (on several threads),
// each but the last turned into a non-final run of blocks ending byte-aligned on an empty
// stored block, as zlib's sync flush ends one, and the runs are joined into one stream.
// A piece starts with no window of the one before: 0.15% more bytes on 2 MP photos.
// The cut points depend on the size only, so the bytes do not depend on `threads`.
constexpr std::size_t kOptimalPiece = 1 << 20;

std::vector<std::uint8_t> zlib_compress_optimal(const std::vector<std::uint8_t>& data, int level,
                                                int threads) {
    const std::size_t pieces = std::max<std::size_t>(1, block_count(data.size(), kOptimalPiece));
    std::vector<std::vector<std::uint8_t>> parts(pieces);
    parallel_for(pieces, threads, [&](std::size_t p) {
        const std::size_t begin = p * kOptimalPiece,
                          size = std::min(data.size(), begin + kOptimalPiece) - begin;
        libdeflate_compressor* compressor = libdeflate_alloc_compressor(level);
        if (compressor == nullptr) throw std::runtime_error("libdeflate: out of memory");
        std::vector<std::uint8_t>& out = parts[p];
        out.resize(libdeflate_deflate_compress_bound(compressor, size));
        out.resize(
            libdeflate_deflate_compress(compressor, data.data() + begin, size, out.data(), out.size()));
        libdeflate_free_compressor(compressor);
        if (out.empty()) throw std::runtime_error("libdeflate: compression failed");
        if (p + 1 == pieces) return;
        const FinalBlock final_block = find_final_block(out);
        out[final_block.header_bit / 8] &= static_cast<std::uint8_t>(~(1u << (final_block.header_bit % 8)));
        // An empty stored block: three zero header bits (not final, stored), zero bits up
        // to the byte boundary, then LEN = 0 and NLEN = 0xFFFF. The bits after the end are
        // zero, so the header fits there when three or more are left.
        out.resize((final_block.end_bit + 7) / 8);
        if (final_block.end_bit % 8 != 0) {
            out.back() &= static_cast<std::uint8_t>((1u << (final_block.end_bit % 8)) - 1);
        }
        if (final_block.end_bit % 8 == 0 || final_block.end_bit % 8 > 5) out.push_back(0);
        out.insert(out.end(), {0x00, 0x00, 0xFF, 0xFF});
    });
    // The zlib header libdeflate writes at these levels, and the checksum of all the data.
    std::vector<std::uint8_t> out = {0x78, 0xDA};
    for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
    put_u32(out, libdeflate_adler32(1, data.data(), data.size()));
    return out;
}

}  // namespace

int bit_depth_for(std::size_t palette_size) {
    if (palette_size <= 2) return 1;
    if (palette_size <= 4) return 2;
    if (palette_size <= 16) return 4;
    return 8;
}

namespace {

// A greyscale PNG (colour type 0) holding the same pixels as a palette, when there is one:
// every entry grey (R = G = B) and opaque. (A grey PNG can mark one grey value transparent
// with tRNS, but common readers drop it: imageio's default read of such a file returns grey
// without alpha, so a transparent image stays a palette PNG.) `sample` maps each entry to
// its stored value at `depth`, the smallest of 2, 4 and 8 bits whose levels (multiples of
// 85, 17 or 1) hold every value. Never 1 bit: Pillow and imageio read a 1-bit grey PNG as
// booleans, where a palette PNG gives uint8 pixels.
struct GreyForm {
    int depth = 0;  // 0: the palette has no greyscale form
    std::vector<std::uint8_t> sample;
};

GreyForm grey_form(const std::vector<Rgba8>& palette) {
    GreyForm form;
    const bool grey = std::all_of(palette.begin(), palette.end(), [](const Rgba8& c) {
        return c[0] == c[1] && c[1] == c[2] && c[3] == 255;
    });
    if (!grey) return form;
    for (int depth : {2, 4, 8}) {
        const int step = 255 / ((1 << depth) - 1);
        if (!std::all_of(palette.begin(), palette.end(), [&](const Rgba8& c) { return c[0] % step == 0; })) continue;
        form.depth = depth;
        for (const Rgba8& c : palette) form.sample.push_back(static_cast<std::uint8_t>(c[0] / step));
        break;
    }
    return form;
}

// The zlib stream of IDAT for rows of `depth`-bit samples: filters chosen from a sample
// (when asked), then deflated as `options` say.
std::vector<std::uint8_t> idat_of(const std::uint8_t* samples, std::size_t width, std::size_t height, int depth,
                                  const PngOptions& options) {
    const std::size_t stride = (width * static_cast<std::size_t>(depth) + 7) / 8;
    const std::vector<std::uint8_t> rows = pack_rows(samples, width, height, depth, stride);
    const int threads = resolve_threads(options.threads);
    const int strategy = options.choose_filters ? choose_strategy(rows, height, stride) : 0;
    const auto deflate = [&](int with) {
        const std::vector<std::uint8_t> filtered = filter_image(rows, 0, height, stride, with);
        if (options.level < kFirstOptimalLevel) return zlib_compress(filtered, options.level, threads);
        std::vector<std::uint8_t> out = zlib_compress_optimal(filtered, options.level, threads);
        // On very repetitive rows (pixel art, flat UI: packed 8 to 1 or more) the near-optimal
        // parser's short searches miss the longest matches that libdeflate's lazy level 9
        // finds (a 5-colour pixel-art image: 1877 bytes against 1299), and level 9 costs
        // little there: the smaller is kept.
        if (out.size() * 8 < filtered.size()) {
            std::vector<std::uint8_t> lazy = zlib_compress_optimal(filtered, 9, threads);
            if (lazy.size() < out.size()) out.swap(lazy);
        }
        return out;
    };
    std::vector<std::uint8_t> idat = deflate(strategy);
    if (strategy != 0) {
        // The sample's bands are short: unfiltered rows of upscaled pixel art or flat
        // artwork match whole rows above them, which a band cannot show. So a filter the
        // sample chose must also beat no filter on the whole image.
        std::vector<std::uint8_t> unfiltered = deflate(0);
        if (unfiltered.size() <= idat.size()) idat.swap(unfiltered);
    }
    return idat;
}

// A whole PNG file: signature, IHDR of colour type `colour_type`, our marker, the chunks
// between (PLTE, tRNS), IDAT and IEND.
std::vector<std::uint8_t> png_file(std::size_t width, std::size_t height, int depth, int colour_type,
                                   const std::vector<std::uint8_t>& plte, const std::vector<std::uint8_t>& trns,
                                   const std::vector<std::uint8_t>& idat) {
    std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<std::uint8_t> ihdr;
    put_u32(ihdr, static_cast<std::uint32_t>(width));
    put_u32(ihdr, static_cast<std::uint32_t>(height));
    ihdr.insert(ihdr.end(), {static_cast<std::uint8_t>(depth), static_cast<std::uint8_t>(colour_type), 0, 0, 0});
    put_chunk(png, "IHDR", ihdr.data(), ihdr.size());
    // An empty private chunk marks the file as quantcli's output (12 bytes), so that
    // folder and glob expansion can leave earlier outputs out whatever they are named.
    // Ancillary, private, and not safe to copy: an editor that changes the pixels drops it.
    put_chunk(png, kOutputMarker, nullptr, 0);
    if (!plte.empty()) put_chunk(png, "PLTE", plte.data(), plte.size());
    if (!trns.empty()) put_chunk(png, "tRNS", trns.data(), trns.size());
    put_chunk(png, "IDAT", idat.data(), idat.size());
    put_chunk(png, "IEND", nullptr, 0);
    return png;
}

}  // namespace

std::vector<std::uint8_t> encode_png(const std::uint8_t* labels, std::size_t width, std::size_t height,
                                     const std::vector<Rgba8>& palette, const PngOptions& options) {
    const std::vector<std::uint32_t> order = palette_order(palette);
    std::vector<std::uint8_t> new_index(palette.size());
    for (std::size_t i = 0; i < order.size(); ++i) new_index[order[i]] = static_cast<std::uint8_t>(i);
    std::vector<std::uint8_t> samples(width * height);
    for (std::size_t p = 0; p < samples.size(); ++p) samples[p] = new_index[labels[p]];

    const int depth = bit_depth_for(palette.size());
    std::vector<std::uint8_t> plte, trns;
    for (std::uint32_t i : order) {
        plte.insert(plte.end(), palette[i].begin(), palette[i].begin() + 3);
        trns.push_back(palette[i][3]);
    }
    while (!trns.empty() && trns.back() == 255) trns.pop_back();
    std::vector<std::uint8_t> png = png_file(width, height, depth, 3, plte, trns,
                                             idat_of(samples.data(), width, height, depth, options));
    const GreyForm grey = grey_form(palette);
    if (grey.depth == 0) return png;
    // The same pixels as grey samples, without PLTE: kept when the file is smaller.
    for (std::size_t p = 0; p < samples.size(); ++p) samples[p] = grey.sample[labels[p]];
    std::vector<std::uint8_t> grey_png = png_file(width, height, grey.depth, 0, {}, {},
                                                  idat_of(samples.data(), width, height, grey.depth, options));
    return grey_png.size() < png.size() ? grey_png : png;
}

}  // namespace quantcli
