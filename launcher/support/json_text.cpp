// See json_text.hpp. The document is built by a SAX handler of our own, which knows the JSON path of the value
// being read when the parser reports a problem (nlohmann's own DOM builder does not say where).
#include "hardrun/support/json_text.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "hardrun/support/error.hpp"

namespace hardrun {

using nlohmann::json;

std::string json_error_text(const json::exception& e) {
    std::string w = e.what();
    if (w.starts_with("[json.exception.")) {
        if (auto pos = w.find("] "); pos != std::string::npos) w = w.substr(pos + 2);
    }
    return w;
}

namespace {

class Builder {
public:
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    json root;
    // set by parse_error()
    bool failed = false;
    std::size_t position = 0;
    std::string token, problem, path;
    int id = 0;

    bool null() { return put(nullptr); }
    bool boolean(bool v) { return put(v); }
    bool number_integer(number_integer_t v) { return put(v); }
    bool number_unsigned(number_unsigned_t v) { return put(v); }
    bool number_float(number_float_t v, const string_t&) { return put(v); }
    bool string(string_t& v) { return put(std::move(v)); }
    bool binary(binary_t& v) { return put(json::binary(std::move(v))); }
    bool start_object(std::size_t) { return open(json::object()); }
    bool key(string_t& k) {
        stack_.back().key = k;
        stack_.back().key_pending = true;
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t) { return open(json::array()); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t pos, const std::string& last_token, const json::exception& ex) {
        failed = true;
        position = pos;
        token = last_token;
        problem = json_error_text(ex);
        id = ex.id;
        path = current_path();
        return false;
    }

private:
    struct Frame {
        json* value;
        std::string key;           // objects: the member being read (or last read)
        bool key_pending = false;  // objects: a key was read, its value not yet
    };
    std::vector<Frame> stack_;

    json* place(json&& v) {
        if (stack_.empty()) {
            root = std::move(v);
            return &root;
        }
        Frame& f = stack_.back();
        if (f.value->is_object()) {
            f.key_pending = false;
            json& slot = (*f.value)[f.key];  // a repeated key: the last one wins, as in nlohmann's parser
            slot = std::move(v);
            return &slot;
        }
        f.value->push_back(std::move(v));
        return &f.value->back();
    }
    bool put(json&& v) {
        place(std::move(v));
        return true;
    }
    bool open(json&& container) {
        json* c = place(std::move(container));
        stack_.push_back({c, {}, false});
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }
    // "syscalls[0].args[0].value": the containers down to the value the parser was at
    std::string current_path() const {
        std::string p;
        for (std::size_t i = 0; i < stack_.size(); ++i) {
            const Frame& f = stack_[i];
            const bool innermost = i + 1 == stack_.size();
            if (f.value->is_object()) {
                if (innermost && !f.key_pending) break;  // between members: the object itself
                p += (p.empty() ? "" : ".") + f.key;
            } else {
                // inside: the element being built; innermost: the next one
                const std::size_t n = f.value->size();
                p += "[" + std::to_string(innermost ? n : (n ? n - 1 : 0)) + "]";
            }
        }
        return p;
    }
};

}  // namespace

json parse_json(std::string_view text, const std::string& step, const std::string& source, const std::string& lead) {
    Builder b;
    bool ok = false;
    try {
        ok = json::sax_parse(text.begin(), text.end(), &b);
    } catch (const json::exception& e) {  // not expected (errors go to parse_error), but never let one escape
        throw Error(step, source, lead + ": " + json_error_text(e));
    }
    if (ok && !b.failed) return std::move(b.root);
    std::string problem = b.problem.empty() ? "not a JSON document" : b.problem;
    // parse errors (ids 1xx) name their line and column already; the others (406: a number beyond a double) do not
    if (b.id < 100 || b.id >= 200) {
        const std::size_t end = std::min(b.position, text.size());
        const std::size_t start = end >= b.token.size() ? end - b.token.size() : end;
        const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(start), '\n'));
        const std::size_t nl = text.rfind('\n', start == 0 ? 0 : start - 1);
        const std::size_t column = start - (nl == std::string_view::npos || nl >= start ? 0 : nl + 1) + 1;
        problem += " (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
    }
    throw Error(step, source, lead + (b.path.empty() ? "" : " at " + b.path) + ": " + problem);
}

}  // namespace hardrun
