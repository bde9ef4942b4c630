// flopcast-gui [FILES]: the desktop app. Opens the scenario files given, side by side when there are several, and
// a fleet file in the Fleet view.

#include <QApplication>
#include <QMessageBox>
#include <cstdio>

#include "flopcast/core/errors.hpp"
#include "main_window.hpp"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("flopcast");
  flopcast::Catalogs catalogs;
  try {
    catalogs = flopcast::load_catalogs();
  } catch (const std::exception& error) {
    // The catalogs ship with flopcast: without them nothing can be shown.
    std::fprintf(stderr, "flopcast-gui: error: %s\n", error.what());
    QMessageBox::critical(nullptr, "flopcast", QString("Cannot load the catalogs:\n%1").arg(error.what()));
    return 2;
  }
  flopcast::gui::MainWindow window(catalogs);
  int failed = 0;
  for (const auto& path : QApplication::arguments().mid(1)) {
    if (!window.open_file(path)) {
      std::fprintf(stderr, "flopcast-gui: %s\n", window.last_message().toLocal8Bit().constData());
      ++failed;
    }
  }
  if (window.scenario_count() > 1) window.show_view("Compare");
  window.show();
  return app.exec();
}
