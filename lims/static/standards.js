// Progressive enhancement of the standards register's forms (everything works without JS).
(function () {
  "use strict";

  // Show the fieldsets that belong to the value of a select: data-<attribute>="<value>".
  function follow(form, selectName, attribute) {
    const select = form.querySelector("select[name=" + selectName + "]");
    const groups = form.querySelectorAll("fieldset[data-" + attribute + "]");
    if (!select) { return; }
    function update() {
      groups.forEach(function (group) { group.hidden = group.dataset[attribute] !== select.value; });
    }
    select.addEventListener("change", update);
    update();
  }

  // The adequacy question: only the characteristics of the chosen instrument type.
  const adequacy = document.getElementById("adequacy-form");
  if (adequacy) { follow(adequacy, "instrument_type", "type"); }
  // A calibration: the laboratory for an external one, our reference standards for an internal one.
  const calibration = document.getElementById("calibration-form");
  if (calibration) { follow(calibration, "source", "source"); }
}());
