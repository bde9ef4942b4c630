#pragma once
// Human-readable numbers with their units, for text people read (the terminal, reports). JSON and CSV stay in SI or
// in a unit named beside the number.

#include <string>

namespace flopcast::human {

std::string seconds(double s);         // "12.3 s", "4.5 ms", "2.1 h"
std::string seconds_range(double low, double high);  // "1.91 to 2.20 min": one unit, the larger value's
std::string days(double d);            // "54.2 days"
std::string days_range(double low, double high);  // "33.1 to 46.9 days"
std::string bytes(double b);           // "71.3 GiB"
std::string count(double n);           // "1.23 M", "671 B" (for billions), "14.8 T"
std::string usd(double dollars);       // "$5.58 M", "$1,234"
std::string percent(double fraction);  // "38.4 %"
std::string flop_rate(double flop_per_s);  // "989 TFLOP/s"
std::string byte_rate(double bytes_per_s); // "450 GB/s"
std::string energy_kwh(double kwh);    // "3.2 GWh"
// Two figures written by one of the above as a range: "$0.20-0.46 per M tokens", "43.0-59.4 days" when they share
// their prefix and unit, "57 s to 2.2 min" otherwise.
std::string range(const std::string& low, const std::string& high);

}  // namespace flopcast::human
