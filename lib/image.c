// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The built-in local provider: faults served from a RAM image file, for
 * lazy restore of a memory snapshot. The file is mapped read-only and
 * UFFDIO_COPY reads straight from that mapping, so a page is copied once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dst.h"

static bool all_zero(const uint8_t *p, uint64_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	/* Most data pages differ from zero in their first bytes. */
	if (w[0] | w[1])
		return false;
	for (uint64_t i = 2; i < len / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

static int image_request(struct pcram_dst *dst, const struct pcram_request *req,
			 void *opaque)
{
	struct dst_image *img = opaque;
	const uint8_t *src = img->map + img->offsets[req->block_index] + req->offset;
	int ret;

	if (all_zero(src, req->length))
		ret = pcram_dst_place_zero(dst, req->host);
	else
		ret = pcram_dst_place_page(dst, req->host, src);
	return ret < 0 ? ret : 0;
}

void dst_image_free(struct pcram_dst *dst)
{
	struct dst_image *img = dst->image;

	if (!img)
		return;
	if (img->map)
		munmap(img->map, img->size);
	free(img);
	dst->image = NULL;
}

PCRAM_EXPORT
int pcram_dst_use_image(struct pcram_dst *dst, const char *path,
			const uint64_t *offsets)
{
	struct dst_image *img;
	uint64_t next = 0;
	struct stat st;
	int fd, ret;

	if (!dst || !path)
		return -EINVAL;
	if (dst->state >= DST_NOTIFY)
		return dst_error(dst, -EBUSY, "use_image: only before enable_notify");
	if (!dst->nr_blocks)
		return dst_error(dst, -EINVAL, "use_image: add the blocks first");

	img = calloc(1, sizeof(*img) + dst->nr_blocks * sizeof(uint64_t));
	if (!img)
		return -ENOMEM;
	img->nr_blocks = dst->nr_blocks;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = dst_error(dst, -errno, "use_image: %s: %s", path,
				strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st)) {
		ret = dst_error(dst, -errno, "use_image: %s: %s", path,
				strerror(errno));
		goto fail_fd;
	}
	img->size = (uint64_t)st.st_size;
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		const struct dst_block *b = &dst->blocks[i];
		uint64_t off = offsets ? offsets[i] : next;

		if (off % (uint64_t)sysconf(_SC_PAGESIZE)) {
			ret = dst_error(dst, -EINVAL,
					"use_image: block %s's offset %" PRIu64 " is not page aligned",
					b->name, off);
			goto fail_fd;
		}
		if (off > img->size || b->length > img->size - off) {
			ret = dst_error(dst, -EINVAL,
					"use_image: %s is %" PRIu64 " bytes; block %s needs [%" PRIu64 ", +%" PRIu64 ")",
					path, img->size, b->name, off, b->length);
			goto fail_fd;
		}
		img->offsets[i] = off;
		next = off + b->length;
	}
	img->map = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img->map == MAP_FAILED) {
		img->map = NULL;
		ret = dst_error(dst, -errno, "use_image: mapping %s: %s", path,
				strerror(errno));
		goto fail_fd;
	}
	close(fd);

	dst_image_free(dst);
	dst->image = img;
	dst->provider = (struct pcram_provider) {
		.request = image_request, .opaque = img,
	};
	return 0;
fail_fd:
	close(fd);
fail:
	free(img);
	return ret;
}
