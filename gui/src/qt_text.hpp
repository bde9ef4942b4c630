#pragma once
// The libraries' UTF-8 text as Qt's.

#include <QString>
#include <string>

namespace flopcast::gui {

inline QString q(const std::string& text) { return QString::fromStdString(text); }

}  // namespace flopcast::gui
