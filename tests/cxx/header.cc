// SPDX-License-Identifier: MIT
/* header.cc - the public header compiles as C++ (built by `make check`). */
#include <mmsync.h>

int mmsync_cxx_smoke(struct mmsync_reader *r);

int mmsync_cxx_smoke(struct mmsync_reader *r)
{
	MMSYNC_OPTS(mmsync_reader_opts, o, .flags = MMSYNC_READ_VERIFY);
	struct mmsync_view v;
	int err;

	(void)o;
	err = mmsync_read_begin(r, &v);
	if (err)
		return err;
	return mmsync_read_end(r, &v);
}
