#pragma once
// report.html as the tests read it: the page a person sees (scripts left
// out), and the proof that it fetches nothing.
#include <string>

namespace stallwatch::test {

// The text with every open...close span removed (string search: the
// scripts are too long for std::regex's recursion).
std::string without_spans(const std::string& text, const std::string& open, const std::string& close);

// The DOM without its <script> elements.
std::string page_text(const std::string& html);

// Empty when the file can fetch nothing: a Content-Security-Policy of
// default-src 'none' that allows no other source, and no URL anywhere but
// in the inlined libraries' licence banners (/*! ... */). Else what is wrong.
std::string fetches(const std::string& html);

}  // namespace stallwatch::test
