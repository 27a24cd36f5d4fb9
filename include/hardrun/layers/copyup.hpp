// OCI's tmpcopyup mount option (a runc/crun extension podman uses for /run, /tmp and /var/tmp): before a tmpfs
// is mounted over a directory of the image, what the image has there is copied into it, so the tmpfs does not
// hide the image's files. Called by mounts.cpp in the child, before pivot_root.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

#include "hardrun/support/sys.hpp"

namespace hardrun::copyup {

// Copies the tree under src_dir (a directory of the rootfs, any fd usable as a dirfd, e.g. O_PATH) into
// dst_dir (the root of the new, still detached tmpfs): directories, regular files, symlinks (as symlinks: no
// path of the image is ever followed) and FIFOs, with their modes, owners and modification times. The tmpfs root
// takes src_dir's owner, and its mode unless `mode` was given. A device node or socket in the tree is an error
// (a tmpfs is nodev; hardrun does not create devices). `what` names the mount in errors. Every kernel call goes
// through sys. Throws Error. `rootless`: an owner the user namespace cannot map is left as the sandbox's own.
void copy_tree(Sys& sys, int src_dir, int dst_dir, const std::string& what, std::optional<mode_t> mode, bool rootless);

// Whether a failed chown (-errno r) only means the owner cannot be mapped in a rootless user namespace (the
// image's root, seen as the overflow id): the copy then keeps the sandbox's own uid. As root every chown must work.
bool unmappable(int r, bool rootless);

}  // namespace hardrun::copyup
