// flopcast-gui [FILES]: the desktop app. Opens the scenario files given, side by side when there are several, and
// a fleet file in the Fleet view.

#include <QApplication>
#include <QMessageBox>
#include <QTimer>
#include <cstdio>
#include <exception>

#include "flopcast/core/errors.hpp"
#include "main_window.hpp"

namespace {

// An exception that escapes a slot or an event handler would end the app and lose the user's other open work: it is
// caught here, reported, and the event loop goes on.
class App : public QApplication {
 public:
  using QApplication::QApplication;

  bool notify(QObject* receiver, QEvent* event) override {
    try {
      return QApplication::notify(receiver, event);
    } catch (const std::exception& error) {
      report(error.what());
    } catch (...) {
      report("an unknown error");
    }
    return false;
  }

 private:
  static void report(const QString& what) {
    std::fprintf(stderr, "flopcast-gui: internal error: %s\n", what.toLocal8Bit().constData());
    // Shown once the current event is done, not from inside it.
    QTimer::singleShot(0, [what] {
      QMessageBox::warning(nullptr, "flopcast", QString("Something went wrong and was stopped:\n%1\n\nYour open "
                                                         "scenarios are unchanged.")
                                                     .arg(what));
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  App app(argc, argv);
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
