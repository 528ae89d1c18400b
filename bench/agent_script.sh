# An agent-style session: lay out a small project with heredocs, look around, edit files in
# place, search, summarise, package. Runs in the current directory; output is deterministic
# (every listing goes through sort) so real bash is the oracle.
set -u
mkdir -p proj/src/app proj/src/lib proj/tests proj/docs proj/data
cd proj

cat > src/app/main.py <<'PY'
import sys
from lib.util import greet, VERSION

def main(argv):
    # TODO: parse flags properly
    name = argv[1] if len(argv) > 1 else "world"
    print(greet(name))
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
PY

cat > src/lib/util.py <<'PY'
VERSION = "0.1.0"

def greet(name):
    # TODO: localise
    return "hello, " + name

def add(a, b):
    return a + b
PY

cat > src/lib/store.py <<'PY'
import json

class Store:
    def __init__(self, path):
        self.path = path  # FIXME: validate
        self.items = {}

    def put(self, key, value):
        self.items[key] = value

    def dump(self):
        return json.dumps(self.items, sort_keys=True)
PY

cat > tests/test_util.py <<'PY'
from lib.util import add, greet

def test_add():
    assert add(2, 3) == 5

def test_greet():
    assert greet("bob") == "hello, bob"
PY

cat > docs/README.md <<'MD'
# demo

A demo project, version 0.1.0.

## Usage

    python src/app/main.py NAME

## Status

TODO: write the rest.
MD

cat > data/users.json <<'JSON'
[
  {"id": 1, "name": "ada", "role": "admin", "active": true, "logins": 42},
  {"id": 2, "name": "bob", "role": "dev", "active": true, "logins": 7},
  {"id": 3, "name": "cyd", "role": "dev", "active": false, "logins": 0},
  {"id": 4, "name": "dee", "role": "ops", "active": true, "logins": 19},
  {"id": 5, "name": "eve", "role": "dev", "active": true, "logins": 23}
]
JSON

cat > data/access.log <<'LOG'
10.0.0.1 GET /index.html 200 512
10.0.0.2 GET /api/users 200 2048
10.0.0.1 POST /api/login 401 64
10.0.0.3 GET /index.html 200 512
10.0.0.2 GET /api/users 500 128
10.0.0.4 GET /static/app.js 200 8192
10.0.0.1 POST /api/login 200 256
10.0.0.3 GET /api/users 200 2048
10.0.0.5 GET /missing 404 32
10.0.0.1 GET /index.html 304 0
LOG

echo "== layout"
find . -type f | sort
echo "files: $(find . -type f | wc -l)"
echo "python files: $(find . -name '*.py' | wc -l)"

echo "== TODOs"
grep -rn "TODO" . | sort
echo "== FIXMEs and TODOs per file"
grep -rc -E "TODO|FIXME" src tests docs | grep -v ':0$' | sort

echo "== defs"
grep -rhn "^def \|^class " src | sed 's/(.*//' | sort

echo "== bump version"
sed -i 's/0\.1\.0/0.2.0/' src/lib/util.py docs/README.md
grep -rn "0\.2\.0" . | sort
sed -i -e 's/# TODO: localise/# localised later/' -e '/^def add/i\
# arithmetic' src/lib/util.py
cat src/lib/util.py

echo "== line counts"
find . -name '*.py' -print0 | xargs -0 wc -l | sort -n
find src -name '*.py' | sort | xargs grep -l "import" | while read -r f; do
    n=$(grep -c "^import\|^from" "$f")
    printf '%-24s %d import(s)\n' "$f" "$n"
done

echo "== users"
jq -r '.[] | select(.active) | "\(.name) \(.role) \(.logins)"' data/users.json
jq '[.[] | .logins] | add' data/users.json
jq -r 'group_by(.role) | .[] | "\(.[0].role): \(length)"' data/users.json
active=$(jq '[.[] | select(.active)] | length' data/users.json)
echo "active users: $active"
jq -c 'map({(.name): .logins}) | add' data/users.json

echo "== log summary"
awk '{print $3}' data/access.log | sort | uniq -c | sort -rn -k1,1 -k2,2
awk '$4 >= 400 {err++} END {printf "errors: %d of %d\n", err, NR}' data/access.log
awk '{bytes[$1] += $5} END {for (ip in bytes) print ip, bytes[ip]}' data/access.log | sort
cut -d' ' -f4 data/access.log | sort | uniq -c | sort -k2
top=$(awk '{print $1}' data/access.log | sort | uniq -c | sort -rn | head -1 | awk '{print $2}')
echo "busiest client: $top"

echo "== per-status files"
mkdir -p out
while read -r ip method path status size; do
    echo "$ip $method $path" >> "out/status-$status.txt"
done < data/access.log
for f in out/*.txt; do
    printf '%s %s\n' "$(basename "$f" .txt)" "$(wc -l < "$f")"
done

echo "== functions and arrays"
count_lines() {
    local total=0 f n
    for f in "$@"; do
        n=$(wc -l < "$f")
        total=$((total + n))
    done
    echo "$total"
}
declare -a pyfiles=()
find src tests -name '*.py' | sort > pyfiles.txt
while IFS= read -r f; do pyfiles+=("$f"); done < pyfiles.txt
echo "${#pyfiles[@]} python files, $(count_lines "${pyfiles[@]}") lines"
declare -A ext_count=()
for f in $(find . -type f -not -path './out/*' | sort); do
    ext=${f##*.}
    ext_count[$ext]=$(( ${ext_count[$ext]:-0} + 1 ))
done
for ext in $(printf '%s\n' "${!ext_count[@]}" | sort); do
    echo "$ext: ${ext_count[$ext]}"
done

echo "== a generated module"
{
    echo "# generated"
    for i in 1 2 3 4 5; do
        echo "def f$i(x):"
        echo "    return x * $i"
    done
} > src/lib/gen.py
grep -c "^def" src/lib/gen.py
sed -n '3,4p' src/lib/gen.py
tail -n 2 src/lib/gen.py

echo "== config"
cat > app.conf <<EOF2
name=demo
version=$(sed -n 's/^VERSION = "\(.*\)"/\1/p' src/lib/util.py)
files=$(find src -type f | wc -l)
EOF2
cat app.conf
while IFS='=' read -r key value; do
    case $key in
        name) echo "project: $value" ;;
        version) echo "release: v$value" ;;
        *) echo "other: $key -> $value" ;;
    esac
done < app.conf

echo "== package"
find src docs -type f | sort > manifest.txt
tar cf ../release.tar -T manifest.txt
tar tf ../release.tar
mkdir -p ../unpacked
tar xf ../release.tar -C ../unpacked
diff -r src ../unpacked/src && echo "unpacked tree matches"
cksum < ../release.tar > /dev/null && echo "archive readable"

echo "== checks"
if grep -q "0.2.0" docs/README.md; then echo "docs updated"; fi
[[ -f src/lib/gen.py && -s manifest.txt ]] && echo "manifest ok"
for f in src/app/main.py src/lib/none.py; do
    if [ -e "$f" ]; then echo "present: $f"; else echo "missing: $f"; fi
done
grep -q "nothing-here" docs/README.md || echo "no match, status $?"
summary=$(printf '%s,' "${pyfiles[@]##*/}")
echo "summary: ${summary%,}"
echo "done"
