# Tidies what scdoc emits so `mandoc -Tlint` has nothing to say about the page: a paragraph break just
# before the end of an indented block moves after it, paragraph macros that do nothing (right after a
# heading or another paragraph macro, right before a heading, or at the end) are dropped, and long text
# lines outside no-fill blocks are wrapped at spaces (roff fills them again; only the source changes).
# Usage: awk -f tidy-roff.awk page.roff > page
function macro_is(s, names) { return s ~ ("^\\.(" names ")( |$)") }
{ raw[NR] = $0 }
END {
    n = 0
    for (i = 1; i <= NR; i++) {
        if (raw[i] == ".P" && i < NR && raw[i + 1] == ".RE") { line[++n] = ".RE"; line[++n] = ".P"; i++; continue }
        line[++n] = raw[i]
    }
    m = 0
    for (i = 1; i <= n; i++) {
        if (line[i] == ".P") {
            prev = m ? out[m] : ""
            nxt = ""
            for (j = i + 1; j <= n; j++) if (line[j] != "") { nxt = line[j]; break }
            if (prev == "" || macro_is(prev, "SH|SS|P|PP|TH") || nxt == "" || macro_is(nxt, "SH|SS|P|PP"))
                continue
        }
        out[++m] = line[i]
    }
    nofill = 0
    for (i = 1; i <= m; i++) {
        l = out[i]
        if (l ~ /^\.nf( |$)/) nofill = 1
        if (l ~ /^\.fi( |$)/) nofill = 0
        if (nofill || l ~ /^[.']/ || length(l) <= 78) { print l; continue }
        nw = split(l, words, / /)
        cur = ""
        for (k = 1; k <= nw; k++) {
            if (cur != "" && length(cur) + 1 + length(words[k]) > 78) { emit(cur); cur = words[k] }
            else cur = (cur == "" ? words[k] : cur " " words[k])
        }
        if (cur != "") emit(cur)
    }
}
# a wrapped piece must not start like a request
function emit(s) { if (s ~ /^[.']/) s = "\\&" s; print s }
