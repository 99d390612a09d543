#!/usr/bin/env bash
# Check #include "..." lines against the module layering (docs/ARCHITECTURE.md):
# a module may include only itself and modules below it, and third-party
# headers only from their home module.
set -u
cd "$(dirname "$0")/.."
declare -A rank=([util]=0 [hash]=1 [chunker]=1 [compress]=1 [crypto]=1 [pack]=2 [http]=2
                 [pgsql]=2 [index]=3 [backend]=3 [repo]=4 [snapshot]=5 [pg]=6 [replica]=6 [cli]=7)
declare -A home=([zstd.h]=compress [sodium.h]=crypto [lmdb.h]=index [openssl/]="crypto hash"
                 [curl/]=http [expat.h]=http [jansson.h]=http [libpq-fe.h]=pgsql)
bad=0
for f in src/*/*.c src/*/*.h; do
	mod=$(echo "$f" | cut -d/ -f2)
	while IFS= read -r inc; do
		dep=${inc%%/*}
		case "$inc" in arca/*) continue ;; esac
		[ -n "${rank[$dep]+x}" ] || continue
		if [ "${rank[$dep]}" -gt "${rank[$mod]}" ] || { [ "${rank[$dep]}" -eq "${rank[$mod]}" ] && [ "$dep" != "$mod" ]; }; then
			echo "$f: includes $inc (module $dep is not below $mod)"; bad=1
		fi
	done < <(grep -oE '^#include "[^"]+"' "$f" | sed -E 's/#include "([^"]+)"/\1/')
	for h in "${!home[@]}"; do
		if grep -qE "^#include <$h" "$f"; then
			case " ${home[$h]} " in *" $mod "*) ;; *) echo "$f: includes <$h> outside ${home[$h]}"; bad=1 ;; esac
		fi
	done
done
[ $bad -eq 0 ] && echo "include layering ok"
exit $bad
